/**
 * Which browser origins and Host names the gateway trusts. One place, so the state-changing-request
 * check (request-guards.ts) and a later CORS layer answer the same question the same way.
 *
 * The defaults are Ollama's: local pages (http(s)://localhost, 127.0.0.1, [::1] and 0.0.0.0 on any
 * port) and desktop-app schemes (app://, file://, tauri://, vscode-webview://, vscode-file://).
 * CORRAL_ORIGINS / OLLAMA_ORIGINS add patterns, comma-separated; `*` matches any run of characters
 * (`https://*.example.com`), and `*` alone allows every origin.
 */

const LOCAL_HOSTS = ['localhost', '127.0.0.1', '[::1]', '0.0.0.0'];
const APP_SCHEMES = ['app', 'file', 'tauri', 'vscode-webview', 'vscode-file'];

/** Ollama's default origin patterns. */
export const DEFAULT_ORIGINS: readonly string[] = [
  ...LOCAL_HOSTS.flatMap((h) => [`http://${h}`, `https://${h}`, `http://${h}:*`, `https://${h}:*`]),
  ...APP_SCHEMES.map((s) => `${s}://*`),
];

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A compiled allow-list: the defaults plus `extra` (CORRAL_ORIGINS, OLLAMA_ORIGINS). Matching is
 * case-insensitive on the whole Origin value; a trailing slash in a pattern is ignored.
 */
export class OriginAllowList {
  private readonly any: boolean;
  private readonly patterns: RegExp[];

  constructor(extra: readonly string[] = []) {
    const all = [...DEFAULT_ORIGINS, ...extra.map((o) => o.trim().replace(/\/+$/, ''))].filter(Boolean);
    this.any = all.includes('*');
    this.patterns = all.map((p) => new RegExp(`^${p.split('*').map(escapeRegex).join('.*')}$`, 'i'));
  }

  /**
   * Whether a browser page at `origin` may change state here. The server's own origin (the Origin's
   * host equals the request's Host) always may; `null` (sandboxed frames, some file pages) never
   * does unless `*` is configured.
   */
  allows(origin: string, requestHost?: string): boolean {
    if (this.any) return true;
    if (requestHost && sameHost(origin, requestHost)) return true;
    return this.patterns.some((re) => re.test(origin));
  }
}

function sameHost(origin: string, requestHost: string): boolean {
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === requestHost.toLowerCase();
  } catch {
    return false;
  }
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`. */
export function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    h.endsWith('.localhost')
  );
}

/** The host name of a Host header, without port or IPv6 brackets, lower-case. */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (v6) return v6[1]!;
  const colon = h.lastIndexOf(':');
  // A bare IPv6 address (several colons, no brackets) has no port part.
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * DNS-rebinding defence, as Ollama does it: a gateway bound to a loopback address answers only
 * Host names that mean this machine (localhost, *.localhost, loopback addresses, the bound host),
 * with or without a port. A page on `evil.example` whose name an attacker re-points at 127.0.0.1
 * sends `Host: evil.example` and is refused. A request without Host (HTTP/1.0) passes, as in Ollama.
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (hostHeader === undefined || hostHeader === '') return true;
  const name = hostName(hostHeader);
  return isLoopbackName(name) || name === hostName(boundHost) || name === boundHost.toLowerCase();
}
