import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS_HASH, canonicalEvent, canonicalJson, chainHash } from './chain';
import { toPendingEvent, type AuditEvent } from './event';
import { REDACTED, isSecretField, redact } from './redact';
import { loadSigningKey, signerFromKey } from './signing';
import { sampleRequest } from '@corral/testing';

const event = (i: number, over = {}): AuditEvent => ({ ...toPendingEvent(sampleRequest(i, over)), seq: i });

describe('canonical form and chain', () => {
  it('sorts keys at every level and is independent of insertion order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: 'x' }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":"x","z":null}]},"b":1}',
    );
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });

  it('the per-event fast path equals the generic canonical form', () => {
    for (const e of [
      event(1),
      event(2, { detail: { b: 1, a: [{ z: 1, y: 2 }] } }),
      event(3, { teamId: null }),
    ]) {
      const { ...fields } = e;
      expect(canonicalEvent(e)).toBe(canonicalJson(fields));
    }
  });

  it('any change to any field, the seq or the predecessor changes the hash', () => {
    const e = event(5);
    const h = chainHash(GENESIS_HASH, e);
    expect(chainHash(GENESIS_HASH, { ...e })).toBe(h);
    expect(chainHash(GENESIS_HASH, { ...e, seq: 6 })).not.toBe(h);
    expect(chainHash(GENESIS_HASH, { ...e, completionTokens: 6 })).not.toBe(h);
    expect(chainHash(GENESIS_HASH, { ...e, details: { x: 1 } })).not.toBe(h);
    expect(chainHash('1'.repeat(64), e)).not.toBe(h);
  });
});

describe('redaction', () => {
  it('replaces secret fields at any depth and keeps ids, prefixes and counts', () => {
    expect(
      redact({
        name: 'ci',
        apiKey: 'sk-1',
        client_secret: 's',
        passwordHash: '$argon2',
        nested: [{ 'refresh-token': 't', keyId: 'key_1', keyPrefix: 'sk-', tokenCount: 3 }],
        password: null,
      }),
    ).toEqual({
      name: 'ci',
      apiKey: REDACTED,
      client_secret: REDACTED,
      passwordHash: REDACTED,
      nested: [{ 'refresh-token': REDACTED, keyId: 'key_1', keyPrefix: 'sk-', tokenCount: 3 }],
      password: null,
    });
    expect(isSecretField('Authorization')).toBe(true);
    expect(isSecretField('teamId')).toBe(false);
  });

  it('events never carry a secret from before/after or detail', () => {
    const e = toPendingEvent({
      actor: { type: 'user', id: 'u' },
      action: 'user.update',
      outcome: { status: 200 },
      before: { password: 'old' },
      after: { password: 'new', token: 'abc' },
    });
    expect(JSON.stringify(e)).not.toMatch(/old|new|abc/);
  });

  it('rejects malformed events', () => {
    expect(() =>
      toPendingEvent({ actor: { type: 'user' }, action: 'Bad Action', outcome: { status: 200 } }),
    ).toThrow(/dotted lower-case/);
  });
});

describe('checkpoint signing', () => {
  it('signs and verifies, and a changed payload or another key fails', () => {
    const s = signerFromKey(generateKeyPairSync('ed25519').privateKey);
    const p = { seq: 10, hash: 'a'.repeat(64), time: new Date(0).toISOString(), keyId: s.keyId };
    const sig = s.sign(p);
    expect(s.verify(p, sig)).toBe(true);
    expect(s.verify({ ...p, seq: 11 }, sig)).toBe(false);
    const other = signerFromKey(generateKeyPairSync('ed25519').privateKey);
    expect(other.verify(p, sig)).toBe(false);
    expect(other.keyId).not.toBe(s.keyId);
  });

  it('creates the key file 0600 once and reloads the same key; a mounted key must exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-key-'));
    const a = loadSigningKey(join(dir, 'k'), { create: true });
    expect(statSync(join(dir, 'k')).mode & 0o777).toBe(0o600);
    expect(loadSigningKey(join(dir, 'k'), { create: true }).keyId).toBe(a.keyId);
    expect(() => loadSigningKey(join(dir, 'missing'), { create: false })).toThrow(/not found/);
  });
});
