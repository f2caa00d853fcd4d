/**
 * The login transaction (state, nonce, PKCE verifier, where to go afterwards) lives in a short-lived
 * cookie sealed with AES-256-GCM, so any gateway replica can finish a login another one started and
 * nothing is stored server-side. The key is derived from the client secret (the same on every
 * replica); a public client without a secret gets a per-process key, so its logins must finish on
 * the replica that started them. The browser can neither read nor forge the contents.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export const STATE_COOKIE = 'corral_oidc';
/** How long a user may take at the provider before the login must start again. */
export const STATE_TTL_MS = 10 * 60_000;

export interface LoginTransaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Same-origin path to land on after login. */
  returnTo: string;
  /** The redirect_uri sent to the provider; the token request must repeat it exactly. */
  redirectUri: string;
  /** Epoch ms after which the transaction is refused. */
  expiresAt: number;
}

export class StateSealer {
  private readonly key: Buffer;

  constructor(secret: string | undefined) {
    const ikm = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
    this.key = Buffer.from(hkdfSync('sha256', ikm, 'corral-oidc', 'login-transaction', 32));
  }

  seal(tx: LoginTransaction): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(JSON.stringify(tx), 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
  }

  /** The transaction, or undefined when the cookie is forged, damaged or expired. */
  open(sealed: string): LoginTransaction | undefined {
    try {
      const raw = Buffer.from(sealed, 'base64url');
      if (raw.length < 29) return undefined;
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      const json = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
      const tx = JSON.parse(json) as LoginTransaction;
      return typeof tx.expiresAt === 'number' && tx.expiresAt > Date.now() ? tx : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * `?redirect=` accepts only same-origin relative paths: "/x" but not "//evil", "/\evil" or
 * anything with a scheme, so the login cannot be used as an open redirector.
 */
export function safeReturnTo(v: unknown): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048) return '/';
  if (!v.startsWith('/') || v.startsWith('//') || v.startsWith('/\\')) return '/';
  // Printable ASCII only (browsers percent-encode the rest): the value ends up in a Location header.
  if ([...v].some((c) => c.charCodeAt(0) < 0x21 || c.charCodeAt(0) > 0x7e || c === '\\')) return '/';
  return v;
}
