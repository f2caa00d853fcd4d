/**
 * The one contract every QuotaStore passes (run by store.spec.ts against memory and Redis). It is
 * what "exact under concurrency" means: hundreds of concurrent admissions never admit more than a
 * limit, never refuse a request that would have fitted, and settlement returns exactly the unused
 * part to exactly the counters that were charged.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { periodsAt } from './calendar';
import type { QuotaStore, Reservation, ReserveRequest } from './store';

export interface ContractTarget {
  /** A fresh store; `leaseMs` is short in the lease tests. */
  make(opts: { leaseMs?: number }): Promise<QuotaStore>;
  /** Removes what the stores made (called once at the end). */
  cleanup(): Promise<void>;
}

const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
const admitted = (r: Reservation): r is Extract<Reservation, { admitted: true }> => r.admitted;

export function quotaStoreContract(target: () => ContractTarget): void {
  let store: QuotaStore;
  let t: ContractTarget;
  beforeAll(async () => {
    t = target();
    store = await t.make({});
  });
  afterAll(async () => {
    await store.close();
    await t.cleanup();
  });
  const team = () => `team-${randomUUID()}`;

  it('admits within limits and reports the tighter of team and key for the headers', async () => {
    const teamId = team();
    const req: ReserveRequest = {
      teamId,
      keyId: 'k1',
      tokens: 100,
      team: { requestsPerMinute: 60, tokensPerMinute: 10_000 },
      key: { requestsPerMinute: 5 },
    };
    const r = await store.reserve(req);
    expect(r.admitted).toBe(true);
    expect(r.snapshot.requests).toEqual({ limit: 5, remaining: 4, resetMs: 12_000 });
    expect(r.snapshot.tokens).toEqual({ limit: 10_000, remaining: 9_900, resetMs: 600 });
  });

  it('refuses at the key limit, names it, and leaves the team and other keys alone', async () => {
    const teamId = team();
    const req = (keyId: string): ReserveRequest => ({
      teamId,
      keyId,
      tokens: 1,
      team: { requestsPerMinute: 100 },
      key: { requestsPerMinute: 2 },
    });
    expect((await store.reserve(req('a'))).admitted).toBe(true);
    expect((await store.reserve(req('a'))).admitted).toBe(true);
    const third = await store.reserve(req('a'));
    expect(third).toMatchObject({ admitted: false, limit: 'requestsPerMinute', scope: 'key', limitValue: 2 });
    if (third.admitted) return;
    // The bucket leaks 2 requests a minute: one request fits again after ~30 s.
    expect(third.retryAfterMs).toBeGreaterThan(25_000);
    expect(third.retryAfterMs).toBeLessThanOrEqual(30_000);
    expect(third.snapshot.requests?.remaining).toBe(0);
    expect((await store.reserve(req('b'))).admitted).toBe(true);
    // Three admitted on the team bucket, less what leaked (100/min) while they ran.
    const level = (await store.usage(teamId)).requests;
    expect(level).toBeGreaterThan(2);
    expect(level).toBeLessThanOrEqual(3);
  });

  it('fires hundreds of concurrent reservations at a budget: never over, never a false refusal, exact refunds', async () => {
    const teamId = team();
    const LIMIT = 20_000;
    const costs = Array.from({ length: 400 }, () => rand(1, 120));
    const results = await Promise.all(
      costs.map((tokens, i) =>
        store.reserve({
          teamId,
          keyId: `k${i % 7}`,
          tokens,
          team: { dailyTokens: LIMIT, monthlyTokens: LIMIT * 10 },
          key: {},
        }),
      ),
    );
    const ok = results.map((r, i) => ({ r, cost: costs[i]! })).filter((x) => x.r.admitted);
    const admittedCost = ok.reduce((s, x) => s + x.cost, 0);
    expect(ok.length).toBeGreaterThan(100);
    expect(ok.length).toBeLessThan(400);
    expect(admittedCost).toBeLessThanOrEqual(LIMIT);
    const used = await store.usage(teamId);
    expect(used.dailyTokens).toBe(admittedCost);
    expect(used.monthlyTokens).toBe(admittedCost);
    // Usage only grew during the burst, so every refused request was larger than what is left.
    const left = LIMIT - admittedCost;
    results.forEach((r, i) => {
      if (!r.admitted) {
        expect(r.limit).toBe('dailyTokens');
        expect(costs[i]!).toBeGreaterThan(left);
      }
    });

    const actuals = ok.map((x) => rand(0, x.cost));
    const settled = await Promise.all(
      ok.map((x, i) => store.settle((x.r as { reservationId: string }).reservationId, actuals[i]!)),
    );
    const refunded = settled.reduce((s, x) => s + (x?.refunded ?? NaN), 0);
    expect(refunded).toBe(admittedCost - actuals.reduce((a, b) => a + b, 0));
    settled.forEach((s, i) =>
      expect(s).toEqual({ reserved: ok[i]!.cost, charged: actuals[i], refunded: ok[i]!.cost - actuals[i]! }),
    );
    const after = await store.usage(teamId);
    expect(after.dailyTokens).toBe(actuals.reduce((a, b) => a + b, 0));
    expect(after.monthlyTokens).toBe(after.dailyTokens);
  });

  it('admits exactly the concurrency limit out of hundreds of simultaneous requests, and frees slots on settle', async () => {
    const teamId = team();
    const results = await Promise.all(
      Array.from({ length: 300 }, () =>
        store.reserve({ teamId, tokens: 1, team: { concurrentRequests: 37 } }),
      ),
    );
    const ok = results.filter(admitted);
    expect(ok).toHaveLength(37);
    expect(results.find((r) => !r.admitted)).toMatchObject({ limit: 'concurrentRequests', scope: 'team' });
    expect((await store.usage(teamId)).concurrent).toBe(37);
    await Promise.all(ok.map((r) => store.settle(r.reservationId, 1)));
    expect((await store.usage(teamId)).concurrent).toBe(0);
    expect((await store.reserve({ teamId, tokens: 1, team: { concurrentRequests: 37 } })).admitted).toBe(
      true,
    );
  });

  it('keeps tokens per minute within the limit plus what leaked during the burst', async () => {
    const teamId = team();
    const LIMIT = 6_000;
    const started = Date.now();
    const costs = Array.from({ length: 300 }, () => rand(1, 80));
    const results = await Promise.all(
      costs.map((tokens) =>
        store.reserve({ teamId, tokens, team: { tokensPerMinute: LIMIT, requestsPerMinute: 250 } }),
      ),
    );
    const elapsed = Date.now() - started + 5;
    const cost = results.reduce((s, r, i) => s + (r.admitted ? costs[i]! : 0), 0);
    expect(cost).toBeLessThanOrEqual(LIMIT + (LIMIT * elapsed) / 60_000);
    expect(results.filter(admitted).length).toBeLessThanOrEqual(250 + Math.ceil((250 * elapsed) / 60_000));
    expect(cost).toBeGreaterThan(LIMIT - 80 - 250);
  });

  it('says until when a daily budget is spent, and refuses a request larger than the budget for good', async () => {
    const teamId = team();
    const limits = { dailyTokens: 100, monthlyTokens: 1_000_000 };
    expect((await store.reserve({ teamId, tokens: 80, team: limits })).admitted).toBe(true);
    const before = Date.now();
    const r = await store.reserve({ teamId, tokens: 30, team: limits });
    const p = periodsAt(Date.now());
    expect(r).toMatchObject({ admitted: false, limit: 'dailyTokens', until: p.dayEndsAt });
    if (r.admitted) return;
    expect(new Date(r.until!).toISOString()).toMatch(/T00:00:00\.000Z$/);
    expect(r.retryAfterMs!).toBeGreaterThan(p.dayEndsAt - before - 2_000);
    expect(r.retryAfterMs!).toBeLessThanOrEqual(p.dayEndsAt - before + 2_000);
    const huge = await store.reserve({ teamId, tokens: 101, team: limits });
    expect(huge).toMatchObject({ admitted: false, limit: 'dailyTokens', retryAfterMs: null });
    const month = await store.reserve({ teamId: team(), tokens: 11, team: { monthlyTokens: 10 } });
    expect(month).toMatchObject({ admitted: false, limit: 'monthlyTokens', until: p.monthEndsAt });
    expect(new Date(p.monthEndsAt).getUTCDate()).toBe(1);
  });

  it('survives a quota change during a request: no negative or leaked counter, no double refund', async () => {
    const teamId = team();
    const first = await store.reserve({
      teamId,
      keyId: 'k',
      tokens: 500,
      team: { concurrentRequests: 2 },
      key: {},
    });
    if (!first.admitted) throw new Error('first request refused');
    // The admin now adds a daily budget and lowers concurrency while the first request runs.
    const second = await store.reserve({
      teamId,
      keyId: 'k',
      tokens: 100,
      team: { concurrentRequests: 1, dailyTokens: 1_000 },
      key: { dailyTokens: 300 },
    });
    expect(second).toMatchObject({ admitted: false, limit: 'concurrentRequests' });
    const third = await store.reserve({
      teamId,
      keyId: 'k',
      tokens: 100,
      team: { concurrentRequests: 5, dailyTokens: 1_000 },
      key: { dailyTokens: 300 },
    });
    if (!third.admitted) throw new Error('third request refused');
    // The first request was charged no budget: settling it must not refund one (nothing goes negative).
    expect(await store.settle(first.reservationId, 0)).toEqual({ reserved: 500, charged: 0, refunded: 500 });
    expect(await store.usage(teamId)).toMatchObject({ dailyTokens: 100, concurrent: 1 });
    expect(await store.usage(teamId, 'k')).toMatchObject({ dailyTokens: 100 });
    // Then the budget is removed again; the third request settles into the counter it was charged to.
    expect(await store.settle(third.reservationId, 40)).toEqual({ reserved: 100, charged: 40, refunded: 60 });
    expect(await store.settle(third.reservationId, 0)).toBeNull();
    expect(await store.usage(teamId)).toMatchObject({ dailyTokens: 40, concurrent: 0 });
    expect(await store.usage(teamId, 'k')).toMatchObject({ dailyTokens: 40 });
  });

  it('charges a request that ran over its estimate for the overage', async () => {
    const teamId = team();
    const r = await store.reserve({ teamId, tokens: 50, team: { dailyTokens: 1000, tokensPerMinute: 1000 } });
    if (!r.admitted) throw new Error('refused');
    expect(await store.settle(r.reservationId, 70)).toEqual({ reserved: 50, charged: 70, refunded: 0 });
    expect((await store.usage(teamId)).dailyTokens).toBe(70);
    expect(await store.settle('not-a-reservation', 1)).toBeNull();
  });

  it('frees the concurrency slot of a request whose gateway died (lease expiry), and renewal keeps a live one', async () => {
    const short = await t.make({ leaseMs: 800 });
    try {
      const teamId = team();
      const lim = { concurrentRequests: 1 };
      const dead = await short.reserve({ teamId, tokens: 1, team: lim });
      expect(dead.admitted).toBe(true);
      expect((await short.reserve({ teamId, tokens: 1, team: lim })).admitted).toBe(false);
      await sleep(900);
      const live = await short.reserve({ teamId, tokens: 1, team: lim });
      if (!live.admitted) throw new Error('the dead lease did not expire');
      for (let i = 0; i < 5; i++) {
        await sleep(200);
        expect(await short.renew(live.reservationId)).toBe(true);
      }
      expect((await short.reserve({ teamId, tokens: 1, team: lim })).admitted).toBe(false);
      await short.settle(live.reservationId, 1);
      expect(await short.renew(live.reservationId)).toBe(false);
      expect((await short.reserve({ teamId, tokens: 1, team: lim })).admitted).toBe(true);
    } finally {
      await short.close();
    }
  });
}
