import { CorralError } from '@corral/common';
import {
  FailureLimiter,
  formatApiKey,
  isModelAllowed,
  newKeyId,
  newKeySecret,
  normalizeModel,
  parseApiKey,
  passwordProblem,
  safeEqual,
} from '@corral/auth';

describe('API key format', () => {
  it('round-trips and rejects anything else', () => {
    const id = newKeyId();
    const secret = newKeySecret();
    expect(parseApiKey(formatApiKey(id, secret))).toEqual({ id, secret });
    for (const bad of [
      '',
      'crl_',
      `crl_${id}`,
      `crl_${id}_${secret}x`,
      `CRL_${id}_${secret}`,
      `crl_${id}_${secret} `,
    ])
      expect(parseApiKey(bad)).toBeUndefined();
    expect(newKeySecret()).not.toBe(secret);
  });

  it('compares in constant time, including different lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
  });
});

describe('password strength', () => {
  it('says why a password is refused', () => {
    expect(passwordProblem('short')).toMatch(/at least 12 characters/);
    expect(passwordProblem('aaaaaaaaaaaaaaaa')).toMatch(/distinct/);
    expect(passwordProblem('Password1234')).toMatch(/too common/);
    expect(passwordProblem('olivia-secret-99', ['olivia@example.com'])).toMatch(/your name or email/);
    expect(passwordProblem('tangerine-zeppelin-42')).toBeUndefined();
  });
});

describe('failure limiter', () => {
  it('throttles the failures of an address past the limit until the window ends', () => {
    const l = new FailureLimiter({ windowMs: 1000, perAddress: 3, perKey: 2 });
    for (let i = 0; i < 3; i++) expect(l.recordFailure('10.0.0.1', undefined, 0)).toBeUndefined();
    const t = l.recordFailure('10.0.0.1', undefined, 10);
    expect(t).toBeInstanceOf(CorralError);
    expect(t?.status).toBe(429);
    expect(t?.retryAfterS).toBe(1);
    expect(l.recordFailure('10.0.0.2', undefined, 10)).toBeUndefined();
    // Throttled failures do not extend the window.
    expect(l.recordFailure('10.0.0.1', undefined, 1001)).toBeUndefined();
  });

  it('throttles failures naming a key id attacked from many addresses', () => {
    const l = new FailureLimiter({ perAddress: 100, perKey: 2 });
    l.recordFailure('a', 'k1', 0);
    l.recordFailure('b', 'k1', 0);
    expect(l.recordFailure('c', 'k1', 1)?.message).toMatch(/too many failed authentication attempts/);
    expect(l.recordFailure('c', 'k2', 1)).toBeUndefined();
  });

  it('holds back at most maxDelayed throttled answers at once', async () => {
    const l = new FailureLimiter({ delayMs: 200, maxDelayed: 2 });
    const started = Date.now();
    const held = [l.delay(), l.delay()];
    await l.delay(); // the third is answered at once
    expect(Date.now() - started).toBeLessThan(150);
    await Promise.all(held);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('limits logins per account and address, so another address still signs in', () => {
    const l = new FailureLimiter({ windowMs: 1000, perLogin: 2, perLoginAddress: 5 });
    l.recordLoginFailure('10.0.0.9', 'login:olive@example.com', 0);
    l.recordLoginFailure('10.0.0.9', 'login:olive@example.com', 0);
    expect(() => l.assertLoginAllowed('10.0.0.9', 'login:olive@example.com', 1)).toThrow(/too many/);
    expect(() => l.assertLoginAllowed('10.0.0.5', 'login:olive@example.com', 1)).not.toThrow();
    expect(() => l.assertLoginAllowed('10.0.0.9', 'login:bob@example.com', 1)).not.toThrow();
    // Spraying many accounts from one address hits the per-address limit.
    for (const who of ['a', 'b', 'c']) l.recordLoginFailure('10.0.0.9', `login:${who}`, 2);
    expect(() => l.assertLoginAllowed('10.0.0.9', 'login:bob@example.com', 3)).toThrow(/too many/);
    expect(() => l.assertLoginAllowed('10.0.0.9', 'login:bob@example.com', 1001)).not.toThrow();
  });
});

describe('model allow-list', () => {
  it('matches names the way Ollama resolves them', () => {
    const allowed = [normalizeModel('tiny'), normalizeModel('myns/Big:v2')];
    expect(isModelAllowed(allowed, 'tiny:latest')).toBe(true);
    expect(isModelAllowed(allowed, 'registry.ollama.ai/library/TINY')).toBe(true);
    expect(isModelAllowed(allowed, 'myns/big:v2')).toBe(true);
    expect(isModelAllowed(allowed, 'myns/big')).toBe(false);
    expect(isModelAllowed(allowed, 'other')).toBe(false);
    expect(isModelAllowed(null, 'anything')).toBe(true);
  });
});
