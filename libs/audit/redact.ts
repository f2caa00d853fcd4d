/**
 * Redaction of secrets in admin-change values. A field is secret when its name (any case, with
 * `_`/`-` ignored) is or ends with one of the names below: `apiKey`, `client_secret`,
 * `passwordHash`, `refresh-token` are all caught; `keyId`, `tokenCount` and `teamKeyPrefix` are not
 * (they name an id or a count, not a secret).
 */
export const REDACTED = '[redacted]';

const SECRET_SUFFIXES = [
  'key',
  'apikey',
  'secret',
  'password',
  'passphrase',
  'passwordhash',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'hash',
  'credential',
  'credentials',
  'authorization',
  'cookie',
  'privatekey',
];

/** Field names that end in a secret word but hold no secret. */
const NOT_SECRET = new Set(['keyid', 'tokencount', 'tokens', 'tokenid', 'prefix', 'keyprefix']);

export function isSecretField(name: string): boolean {
  const n = name.toLowerCase().replace(/[_\-\s]/g, '');
  if (NOT_SECRET.has(n) || n.endsWith('prefix') || n.endsWith('id')) return false;
  return SECRET_SUFFIXES.some((s) => n === s || n.endsWith(s));
}

/** A deep copy of `value` with every secret field's value replaced by `[redacted]`. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 32) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // A flag (`has_password: true`) says whether a secret exists, and holds none.
      const secret = isSecretField(k) && v !== null && v !== undefined && typeof v !== 'boolean';
      out[k] = secret ? REDACTED : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}
