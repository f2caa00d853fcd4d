/**
 * What quota admission adds per request: admit (policy lookup through the cache, one atomic
 * reservation against requests/min, tokens/min, concurrency, daily and monthly budgets of a team
 * and a key) plus settle, in embedded mode (in memory) and cluster mode (Redis, one Lua script each
 * way), against the same request with quotas off (no policy: admission returns without touching a
 * store). Measured one request at a time (latency) and with 64 in flight (a busy gateway), rounds
 * interleaved so drift on a shared machine hits every mode alike.
 *
 * Standalone: `npm run build && node dist/bench/quota-overhead.js`. Knobs: CORRAL_BENCH_QUOTA_N
 * (admissions per mode per round, default 3000), REDIS_URL (default redis://127.0.0.1:6379; the
 * Redis rows are skipped with a note when it is unreachable).
 */
import { Redis } from 'ioredis';
import {
  LocalPolicyNotifier,
  MemoryQuotaStore,
  PolicyCache,
  QuotaService,
  RedisQuotaStore,
  type PolicySource,
  type QuotaStore,
} from '@corral/quota';
import { runStandalone } from './support/standalone';
import { quantile } from './support/stats';

type Row = Record<string, string | number>;

const N = Number(process.env.CORRAL_BENCH_QUOTA_N ?? 3000);
const ROUNDS = 3;
const BIG = 1e12;

const limited: PolicySource = {
  team: () =>
    Promise.resolve({
      requestsPerMinute: BIG,
      tokensPerMinute: BIG,
      concurrentRequests: 1e6,
      dailyTokens: BIG,
      monthlyTokens: BIG,
      maxTokensPerRequest: 1e6,
    }),
  key: () => Promise.resolve({ requestsPerMinute: BIG, tokensPerMinute: BIG, dailyTokens: BIG }),
};
const unlimited: PolicySource = {
  team: () => Promise.resolve(undefined),
  key: () => Promise.resolve(undefined),
};

function service(store: QuotaStore, source: PolicySource): QuotaService {
  return new QuotaService(store, new PolicyCache(source, new LocalPolicyNotifier()));
}

/** One admit + settle; returns its latency in µs. */
async function once(q: QuotaService, i: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const a = await q.admit({
    teamId: `team-${i % 8}`,
    keyId: `key-${i % 32}`,
    model: 'tiny',
    promptTokens: 100,
    maxTokens: 200,
  });
  await a.settle(150);
  return Number(process.hrtime.bigint() - t0) / 1000;
}

async function measure(q: QuotaService, inFlight: number, out: number[]): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < N) out.push(await once(q, next++));
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export async function run(): Promise<{ title: string; rows: Row[] }> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const prefix = `bench:quota:${process.pid}:`;
  let haveRedis = true;
  try {
    await redis.connect();
  } catch {
    haveRedis = false;
  }
  const modes: [string, QuotaService][] = [
    ['quotas off', service(new MemoryQuotaStore(), unlimited)],
    ['embedded (memory)', service(new MemoryQuotaStore(), limited)],
  ];
  if (haveRedis)
    modes.push(['cluster (Redis Lua)', service(new RedisQuotaStore(redis, { keyPrefix: prefix }), limited)]);
  const rows: Row[] = [];
  try {
    for (const inFlight of [1, 64]) {
      const samples = new Map(modes.map(([m]) => [m, [] as number[]]));
      const seconds = new Map(modes.map(([m]) => [m, 0]));
      for (const [, q] of modes) await measure(q, inFlight, []); // warm-up: JIT, script load, cache
      for (let r = 0; r < ROUNDS; r++)
        for (const [m, q] of modes)
          seconds.set(m, seconds.get(m)! + (await measure(q, inFlight, samples.get(m)!)));
      for (const [m] of modes) {
        const xs = samples.get(m)!;
        rows.push({
          mode: m,
          'in flight': inFlight,
          'admit+settle p50 (µs)': Math.round(quantile(xs, 0.5)),
          'p99 (µs)': Math.round(quantile(xs, 0.99)),
          'admissions/s': Math.round(xs.length / seconds.get(m)!),
        });
      }
    }
    if (!haveRedis) rows.push({ mode: `cluster (Redis): skipped, ${url} unreachable`, 'in flight': '-' });
  } finally {
    if (haveRedis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    } else redis.disconnect();
  }
  return { title: `Quota admission overhead per request (admit + settle, ${N} × ${ROUNDS} per mode)`, rows };
}

runStandalone(module, run);
