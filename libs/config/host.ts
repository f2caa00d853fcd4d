/**
 * Parses OLLAMA_HOST / CORRAL_HOST the way Ollama does: "", "0.0.0.0", ":8080", "host:port",
 * "http://host:port", "[::1]:11434". Default host 127.0.0.1, default port 11434.
 */
export const DEFAULT_PORT = 11434;

export function parseHost(raw: string): { host: string; port: number } {
  let s = raw.trim();
  s = s.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  let host = '127.0.0.1';
  let port = DEFAULT_PORT;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1] ?? host;
    if (v6[2]) port = Number(v6[2]);
  } else if (s) {
    const idx = s.lastIndexOf(':');
    if (idx >= 0) {
      if (idx > 0) host = s.slice(0, idx);
      port = Number(s.slice(idx + 1));
    } else {
      host = s;
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid host '${raw}': bad port`);
  return { host, port };
}

/** Base URL a client uses to reach the gateway named by CORRAL_HOST / OLLAMA_HOST. */
export function clientBaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.CORRAL_HOST || env.OLLAMA_HOST || '';
  const scheme = /^https:\/\//i.test(raw) ? 'https' : 'http';
  const { host, port } = parseHost(raw);
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `${scheme}://${h.includes(':') ? `[${h}]` : h}:${port}`;
}
