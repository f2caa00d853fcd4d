import { Redis } from 'ioredis';
import { CorralError } from '@corral/common';
import { MemoryQuotaStore } from './memory-store';
import { formatDuration, QuotaExceededError } from './headers';
import { parsePolicy, TeamPolicySchema, KeyPolicySchema, type KeyPolicy, type TeamPolicy } from './policy';
import { PolicyCache, type PolicySource } from './policy-cache';
import { LocalPolicyNotifier } from './policy-notifier';
import { QuotaService } from './quota.service';

/** A policy table in memory, standing in for the database behind the cache. */
class Table implements PolicySource {
  teams = new Map<string, TeamPolicy>();
  keys = new Map<string, KeyPolicy>();
  reads = 0;
  team(id: string) {
    this.reads++;
    return Promise.resolve(this.teams.get(id));
  }
  key(id: string) {
    this.reads++;
    return Promise.resolve(this.keys.get(id));
  }
}

function setup() {
  const table = new Table();
  const notifier = new LocalPolicyNotifier();
  const cache = new PolicyCache(table, notifier);
  const store = new MemoryQuotaStore();
  return { table, notifier, cache, store, quota: new QuotaService(store, cache) };
}

async function refusal(p: Promise<unknown>): Promise<CorralError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('QuotaService', () => {
  it('reserves prompt + completion budget, returns headers, and settles the unused part', async () => {
    const { table, quota, store } = setup();
    table.teams.set('t', { tokensPerMinute: 10_000, requestsPerMinute: 100, dailyTokens: 50_000 });
    const a = await quota.admit({
      teamId: 't',
      keyId: 'k',
      model: 'tiny',
      promptTokens: 120,
      maxTokens: 200,
    });
    expect(a.estimate).toBe(320);
    expect(a.headers).toEqual({
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': '99',
      'x-ratelimit-reset-requests': '600ms',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': '9680',
      'x-ratelimit-reset-tokens': '1.92s',
    });
    expect(await a.settle(150)).toEqual({ reserved: 320, charged: 150, refunded: 170 });
    expect(await a.settle(150)).toEqual({ reserved: 320, charged: 150, refunded: 170 }); // idempotent
    expect((await store.usage('t')).dailyTokens).toBe(150);
  });

  it('uses the model default, then the fallback, as the completion budget; lowers it to the per-request limit', async () => {
    const { table, quota } = setup();
    table.teams.set('t', { maxTokensPerRequest: 1000 });
    expect(
      (await quota.admit({ teamId: 't', model: 'm', promptTokens: 10, defaultMaxTokens: 300 })).estimate,
    ).toBe(310);
    const capped = await quota.admit({ teamId: 't', model: 'm', promptTokens: 900 });
    expect(capped).toMatchObject({ estimate: 1000, maxTokens: 100, reservationId: null });
  });

  it('rejects a prompt that alone exceeds the per-request limit with 400, before reserving anything', async () => {
    const { table, quota, store } = setup();
    table.teams.set('t', { maxTokensPerRequest: 4096, dailyTokens: 1_000_000 });
    table.keys.set('k', { maxTokensPerRequest: 512 });
    const e = await refusal(quota.admit({ teamId: 't', keyId: 'k', model: 'm', promptTokens: 513 }));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/513 tokens.*512.*maxTokensPerRequest/);
    expect((await store.usage('t')).dailyTokens).toBe(0);
  });

  it('refuses a model outside either allow-list with 403', async () => {
    const { table, quota } = setup();
    table.teams.set('t', { allowedModels: ['llama3'] });
    table.keys.set('k', { allowedModels: ['llama3:8b', 'tiny'] });
    await expect(
      quota.admit({ teamId: 't', keyId: 'k', model: 'llama3:8b', promptTokens: 1 }),
    ).resolves.toBeDefined();
    expect(
      (await refusal(quota.admit({ teamId: 't', keyId: 'k', model: 'tiny', promptTokens: 1 }))).status,
    ).toBe(403);
    expect(
      (await refusal(quota.admit({ teamId: 't', keyId: 'k', model: 'llama3:70b', promptTokens: 1 }))).status,
    ).toBe(403);
    await expect(quota.admit({ teamId: 't', model: 'llama3:70b', promptTokens: 1 })).resolves.toBeDefined();
  });

  it('refuses with 429, the limit named, Retry-After and the rate-limit headers', async () => {
    const { table, quota } = setup();
    table.teams.set('t', { requestsPerMinute: 1 });
    await quota.admit({ teamId: 't', model: 'm', promptTokens: 1 });
    const e = await refusal(quota.admit({ teamId: 't', model: 'm', promptTokens: 1 }));
    expect(e).toBeInstanceOf(QuotaExceededError);
    expect(e.status).toBe(429);
    expect(e.code).toBe('rate_limited');
    expect(e.message).toMatch(/requests per minute \(requestsPerMinute = 1\).*try again in/);
    const h = (e as QuotaExceededError).headers;
    expect(Number(h['retry-after'])).toBeGreaterThanOrEqual(59);
    expect(h['x-ratelimit-remaining-requests']).toBe('0');
  });

  it('says until when the monthly budget is spent', async () => {
    const { table, quota } = setup();
    table.teams.set('t', { monthlyTokens: 100 });
    const e = (await refusal(
      quota.admit({ teamId: 't', model: 'm', promptTokens: 10, maxTokens: 200 }),
    )) as QuotaExceededError;
    expect(e.code).toBe('quota_exceeded');
    expect(e.status).toBe(429);
    expect(e.message).toMatch(/request too large: it needs 210 tokens/);
    await quota.admit({ teamId: 't', model: 'm', promptTokens: 10, maxTokens: 80 });
    const spent = (await refusal(
      quota.admit({ teamId: 't', model: 'm', promptTokens: 10, maxTokens: 10 }),
    )) as QuotaExceededError;
    const now = new Date();
    const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    expect(spent.until).toEqual(first);
    expect(spent.message).toContain(`is used up until ${first.toISOString()}`);
  });

  it('applies a policy edit to the next request as soon as the change is published', async () => {
    const { table, quota, notifier } = setup();
    table.teams.set('t', { requestsPerMinute: 1000 });
    await quota.admit({ teamId: 't', model: 'm', promptTokens: 1 });
    table.teams.set('t', { requestsPerMinute: 1 });
    // Cached: the old policy still applies until the notice.
    await quota.admit({ teamId: 't', model: 'm', promptTokens: 1 });
    await notifier.publish({ kind: 'team', id: 't' });
    expect((await refusal(quota.admit({ teamId: 't', model: 'm', promptTokens: 1 }))).status).toBe(429);
  });
});

describe('policy validation', () => {
  it('rejects negative, fractional, absurd and unknown limits naming the field', () => {
    const bad = (input: unknown, re: RegExp) => {
      let err: unknown;
      try {
        parsePolicy(TeamPolicySchema, input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CorralError);
      expect((err as CorralError).message).toMatch(re);
      expect((err as CorralError).status).toBe(400);
    };
    bad({ requestsPerMinute: -1 }, /requestsPerMinute must not be negative/);
    bad({ dailyTokens: 1.5 }, /dailyTokens must be a whole number/);
    bad({ monthlyTokens: 1e18 }, /monthlyTokens is absurdly large/);
    bad({ tokensPerMinute: '100' }, /tokensPerMinute must be a number/);
    bad({ weight: 0 }, /weight must be greater than 0/);
    bad({ requestsPerMinut: 5 }, /unknown field\(s\): requestsPerMinut/);
    bad({ allowedModels: [''] }, /allowedModels/);
    expect(parsePolicy(TeamPolicySchema, { requestsPerMinute: 0, dailyTokens: null })).toEqual({
      requestsPerMinute: 0,
      dailyTokens: null,
    });
    expect(() => parsePolicy(KeyPolicySchema, { priority: 'urgent' })).toThrow(
      /priority must be one of interactive, batch/,
    );
  });
});

describe('formatDuration', () => {
  it("writes durations as OpenAI's headers do", () => {
    expect([0, 20, 999, 1000, 1500, 60_000, 360_000, 3_723_500].map(formatDuration)).toEqual([
      '0s',
      '20ms',
      '999ms',
      '1s',
      '1.5s',
      '1m0s',
      '6m0s',
      '1h2m3.5s',
    ]);
  });
});

describe('QuotaService when the store is down', () => {
  it('refuses with 503 rather than admitting uncounted', async () => {
    const r = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    const { RedisQuotaStore } = await import('./redis-store');
    const q = new QuotaService(new RedisQuotaStore(r), {
      team: () => Promise.resolve({ requestsPerMinute: 10 }),
      key: () => Promise.resolve(undefined),
    });
    const e = await refusal(q.admit({ teamId: 't', model: 'm', promptTokens: 1 }));
    expect(e.status).toBe(503);
    expect(e.message).toBe('quota check unavailable, please try again');
    r.disconnect();
  });
});
