/**
 * The embedded quota store: counters in this process. JavaScript runs one admission at a time, so
 * each reserve/settle below is atomic by construction; the logic mirrors redis-admit.lua exactly
 * (the contract suite runs against both).
 */
import { randomUUID } from 'node:crypto';
import { periodsAt } from './calendar';
import { MAX_LIMIT } from './policy';
import {
  DEFAULT_LEASE_MS,
  DEFAULT_RESERVATION_TTL_MS,
  WINDOW_MS,
  type LimitName,
  type LimitsSnapshot,
  type QuotaStore,
  type Reservation,
  type ReserveRequest,
  type ScopeUsage,
  type Settlement,
  type StoreLimits,
  type StoreOptions,
  type WindowState,
} from './store';

interface Bucket {
  level: number;
  ts: number;
}

interface ScopeState {
  rpm: Bucket;
  tpm: Bucket;
  leases: Map<string, number>;
  /** `d<yyyymmdd>` / `m<yyyymm>` → tokens used. */
  budgets: Map<string, { used: number; expiresAt: number }>;
}

type Charge =
  | { scope: string; kind: 'tpm' }
  | { scope: string; kind: 'budget'; period: string }
  | { scope: string; kind: 'lease' };

interface Held {
  tokens: number;
  charges: Charge[];
  expiresAt: number;
}

interface Failure {
  limit: LimitName;
  scope: 'team' | 'key';
  limitValue: number;
  retryAfterMs: number | null;
  until?: number;
}

export interface MemoryStoreOptions extends StoreOptions {
  /** Clock in epoch ms. Defaults to Date.now (tests move time by hand). */
  now?: () => number;
}

export class MemoryQuotaStore implements QuotaStore {
  private readonly scopes = new Map<string, ScopeState>();
  private readonly held = new Map<string, Held>();
  private readonly now: () => number;
  private readonly leaseMs: number;
  private readonly ttlMs: number;
  private lastSweep = 0;

  constructor(opts: MemoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
  }

  private scope(id: string): ScopeState {
    let s = this.scopes.get(id);
    if (!s) {
      s = { rpm: { level: 0, ts: 0 }, tpm: { level: 0, ts: 0 }, leases: new Map(), budgets: new Map() };
      this.scopes.set(id, s);
    }
    return s;
  }

  reserve(req: ReserveRequest): Promise<Reservation> {
    const now = this.now();
    this.sweep(now);
    const p = periodsAt(now);
    const scopes: { name: 'team' | 'key'; id: string; limits: StoreLimits }[] = [
      { name: 'team', id: `t:${req.teamId}`, limits: req.team },
    ];
    if (req.keyId !== undefined)
      scopes.push({ name: 'key', id: `k:${req.teamId}:${req.keyId}`, limits: req.key ?? {} });
    const failures: Failure[] = [];
    for (const { name, id, limits: l } of scopes) {
      const s = this.scope(id);
      for (const [lid, exp] of s.leases) if (exp <= now) s.leases.delete(lid);
      drain(s.rpm, l.requestsPerMinute, now);
      drain(s.tpm, l.tokensPerMinute, now);
      if (isLimit(l.concurrentRequests) && s.leases.size + 1 > l.concurrentRequests)
        failures.push({
          limit: 'concurrentRequests',
          scope: name,
          limitValue: l.concurrentRequests,
          retryAfterMs: l.concurrentRequests > 0 ? 1000 : null,
        });
      for (const [limit, b, cost] of [
        ['requestsPerMinute', s.rpm, 1],
        ['tokensPerMinute', s.tpm, req.tokens],
      ] as const) {
        const lim = l[limit];
        if (isLimit(lim) && b.level + cost > lim)
          failures.push({
            limit,
            scope: name,
            limitValue: lim,
            retryAfterMs: cost > lim ? null : Math.ceil(((b.level + cost - lim) * WINDOW_MS) / lim),
          });
      }
      for (const [limit, key, endsAt] of [
        ['dailyTokens', `d${p.day}`, p.dayEndsAt],
        ['monthlyTokens', `m${p.month}`, p.monthEndsAt],
      ] as const) {
        const lim = l[limit];
        const used = s.budgets.get(key)?.used ?? 0;
        if (isLimit(lim) && used + req.tokens > lim)
          failures.push({
            limit,
            scope: name,
            limitValue: lim,
            retryAfterMs: req.tokens > lim ? null : endsAt - now,
            until: endsAt,
          });
      }
    }
    if (failures.length) {
      const worst = failures.reduce((a, b) =>
        a.retryAfterMs === null ? a : b.retryAfterMs === null || b.retryAfterMs > a.retryAfterMs ? b : a,
      );
      return Promise.resolve({ admitted: false, ...worst, snapshot: this.snapshot(scopes) });
    }
    const reservationId = randomUUID();
    const charges: Charge[] = [];
    for (const { id, limits: l } of scopes) {
      const s = this.scope(id);
      if (isLimit(l.concurrentRequests)) {
        s.leases.set(reservationId, now + this.leaseMs);
        charges.push({ scope: id, kind: 'lease' });
      }
      if (isLimit(l.requestsPerMinute)) s.rpm.level += 1;
      if (isLimit(l.tokensPerMinute)) {
        s.tpm.level += req.tokens;
        charges.push({ scope: id, kind: 'tpm' });
      }
      for (const [limit, key, endsAt] of [
        ['dailyTokens', `d${p.day}`, p.dayEndsAt],
        ['monthlyTokens', `m${p.month}`, p.monthEndsAt],
      ] as const) {
        if (!isLimit(l[limit])) continue;
        const b = s.budgets.get(key) ?? { used: 0, expiresAt: endsAt };
        b.used += req.tokens;
        s.budgets.set(key, b);
        charges.push({ scope: id, kind: 'budget', period: key });
      }
    }
    this.held.set(reservationId, { tokens: req.tokens, charges, expiresAt: now + this.ttlMs });
    return Promise.resolve({
      admitted: true,
      reservationId,
      tokens: req.tokens,
      snapshot: this.snapshot(scopes),
    });
  }

  settle(reservationId: string, actualTokens: number): Promise<Settlement | null> {
    const h = this.held.get(reservationId);
    if (!h || h.expiresAt <= this.now()) {
      this.held.delete(reservationId);
      return Promise.resolve(null);
    }
    this.held.delete(reservationId);
    const actual = Math.min(MAX_LIMIT, Math.max(0, Math.round(actualTokens) || 0));
    // Positive: unused part returned; negative: the request ran over its estimate and pays the rest.
    const back = h.tokens - actual;
    for (const c of h.charges) {
      const s = this.scopes.get(c.scope);
      if (!s) continue;
      if (c.kind === 'lease') s.leases.delete(reservationId);
      else if (c.kind === 'tpm') s.tpm.level = Math.max(0, s.tpm.level - back);
      else {
        const b = s.budgets.get(c.period);
        if (b) b.used = Math.max(0, b.used - back);
      }
    }
    return Promise.resolve({ reserved: h.tokens, charged: actual, refunded: Math.max(0, back) });
  }

  renew(reservationId: string): Promise<boolean> {
    const now = this.now();
    const h = this.held.get(reservationId);
    if (!h) return Promise.resolve(false);
    let alive = true;
    for (const c of h.charges) {
      if (c.kind !== 'lease') continue;
      const leases = this.scopes.get(c.scope)?.leases;
      const exp = leases?.get(reservationId);
      if (!leases || exp === undefined || exp <= now) alive = false;
      else leases.set(reservationId, now + this.leaseMs);
    }
    return Promise.resolve(alive);
  }

  usage(teamId: string, keyId?: string): Promise<ScopeUsage> {
    const now = this.now();
    const p = periodsAt(now);
    const s = this.scopes.get(keyId === undefined ? `t:${teamId}` : `k:${teamId}:${keyId}`);
    if (!s)
      return Promise.resolve({ requests: 0, tokens: 0, concurrent: 0, dailyTokens: 0, monthlyTokens: 0 });
    return Promise.resolve({
      requests: s.rpm.level,
      tokens: s.tpm.level,
      concurrent: [...s.leases.values()].filter((e) => e > now).length,
      dailyTokens: s.budgets.get(`d${p.day}`)?.used ?? 0,
      monthlyTokens: s.budgets.get(`m${p.month}`)?.used ?? 0,
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private snapshot(scopes: { id: string; limits: StoreLimits }[]): LimitsSnapshot {
    const snap: LimitsSnapshot = {};
    for (const { id, limits: l } of scopes) {
      const s = this.scope(id);
      snap.requests = tighter(snap.requests, windowState(s.rpm, l.requestsPerMinute));
      snap.tokens = tighter(snap.tokens, windowState(s.tpm, l.tokensPerMinute));
    }
    return snap;
  }

  /** Forgets expired reservations and finished periods, at most once a second. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [id, h] of this.held) if (h.expiresAt <= now) this.held.delete(id);
    for (const s of this.scopes.values())
      for (const [k, b] of s.budgets) if (b.expiresAt + this.ttlMs <= now) s.budgets.delete(k);
  }
}

function isLimit(v: number | null | undefined): v is number {
  return typeof v === 'number';
}

/** Leaky bucket: the level is what was admitted in the last window, leaking at limit per minute. */
function drain(b: Bucket, limit: number | null | undefined, now: number): void {
  if (!isLimit(limit)) return;
  if (limit > 0 && now > b.ts) b.level = Math.max(0, b.level - ((now - b.ts) * limit) / WINDOW_MS);
  b.ts = now;
}

export function windowState(b: { level: number }, limit: number | null | undefined): WindowState | undefined {
  if (!isLimit(limit)) return undefined;
  return {
    limit,
    remaining: Math.max(0, Math.floor(limit - b.level)),
    resetMs: limit > 0 ? Math.ceil((b.level * WINDOW_MS) / limit) : 0,
  };
}

export function tighter(a: WindowState | undefined, b: WindowState | undefined): WindowState | undefined {
  if (!a || !b) return a ?? b;
  if (b.remaining !== a.remaining) return b.remaining < a.remaining ? b : a;
  return b.resetMs > a.resetMs ? b : a;
}
