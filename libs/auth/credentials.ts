/**
 * API key and session token formats, and where a request carries them. A key is
 * `crl_<public id>_<secret>`: the id finds the row, the secret is checked against its SHA-256 (a
 * high-entropy random secret needs no slow hash). Only hashes are stored; comparisons are
 * constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const KEY_ID_LENGTH = 12;
export const KEY_SECRET_LENGTH = 40;
const KEY_PATTERN = new RegExp(`^crl_([A-Za-z0-9]{${KEY_ID_LENGTH}})_([A-Za-z0-9]{${KEY_SECRET_LENGTH}})$`);

/** Uniform base62 characters (rejection sampling keeps every character equally likely). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

export interface ParsedKey {
  id: string;
  secret: string;
}

/** Splits a presented key; undefined when it is not shaped like a Corral key. */
export function parseApiKey(raw: string): ParsedKey | undefined {
  const m = KEY_PATTERN.exec(raw);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export function formatApiKey(id: string, secret: string): string {
  return `crl_${id}_${secret}`;
}

export function newKeyId(): string {
  return randomBase62(KEY_ID_LENGTH);
}

export function newKeySecret(): string {
  return randomBase62(KEY_SECRET_LENGTH);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Constant-time equality of two hex digests (or any two strings of equal length). */
export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ba.length !== bb.length) {
    // Still spend the comparison so a length mismatch does not answer faster.
    timingSafeEqual(ba, ba);
    return false;
  }
  return timingSafeEqual(ba, bb);
}

/** A session token: 256 random bits, base64url. */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(16)}`;
}

const BEARER = /^Bearer +([^\s]+) *$/i;

/**
 * Whether the request presents an API key: `Authorization` (any value: a malformed one is a failed
 * key, not a missing one) or a single `x-api-key` header.
 */
export function hasApiKeyHeader(req: FastifyRequest): boolean {
  return req.headers.authorization !== undefined || typeof req.headers['x-api-key'] === 'string';
}

/**
 * The API key a request presents: `Authorization: Bearer <key>` first, else `x-api-key`.
 * Null when `Authorization` is there but not a Bearer token; undefined when there is no key header.
 */
export function presentedApiKey(req: FastifyRequest): string | null | undefined {
  const authorization = req.headers.authorization;
  if (authorization !== undefined) {
    const m = BEARER.exec(authorization);
    return m ? m[1]! : null;
  }
  const apiKeyHeader = req.headers['x-api-key'];
  return typeof apiKeyHeader === 'string' ? apiKeyHeader.trim() : undefined;
}

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function isLoopback(address: string): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
