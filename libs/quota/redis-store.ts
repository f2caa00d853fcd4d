/**
 * The cluster quota store: counters in Redis, one Lua script per admission (redis-scripts.ts), so
 * any number of gateways admit against the same limits without races. Keys are
 * `<prefix>{<team>}:…`; the hash tag keeps a team's keys in one slot.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { periodsAt } from './calendar';
import { MAX_LIMIT } from './policy';
import { RENEW_LUA, RESERVE_LUA, SETTLE_LUA } from './redis-scripts';
import {
  DEFAULT_LEASE_MS,
  DEFAULT_RESERVATION_TTL_MS,
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

export interface RedisStoreOptions extends StoreOptions {
  /** Prepended to every key. Defaults to `corral:quota:`. */
  keyPrefix?: string;
}

interface QuotaCommands {
  corralQuotaReserve(base: string, req: string): Promise<string>;
  corralQuotaSettle(base: string, id: string, actual: string): Promise<[string, string] | null>;
  corralQuotaRenew(base: string, id: string, leaseMs: string): Promise<number>;
}

interface ReserveReply {
  ok: boolean;
  limit?: LimitName;
  scope?: 'team' | 'key';
  value?: string;
  retry?: string;
  until?: string;
  snap: { requests?: [string, string, string]; tokens?: [string, string, string] };
}

export class RedisQuotaStore implements QuotaStore {
  private readonly redis: Redis & QuotaCommands;
  private readonly prefix: string;
  private readonly leaseMs: number;
  private readonly ttlMs: number;

  /** Takes a connection it does not own: `close()` leaves it open. */
  constructor(redis: Redis, opts: RedisStoreOptions = {}) {
    this.prefix = opts.keyPrefix ?? 'corral:quota:';
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
    // defineCommand sends EVALSHA and falls back to EVAL once after a Redis restart (NOSCRIPT).
    if (!('corralQuotaReserve' in redis)) {
      redis.defineCommand('corralQuotaReserve', { numberOfKeys: 1, lua: RESERVE_LUA });
      redis.defineCommand('corralQuotaSettle', { numberOfKeys: 1, lua: SETTLE_LUA });
      redis.defineCommand('corralQuotaRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    }
    this.redis = redis as Redis & QuotaCommands;
  }

  private base(teamId: string): string {
    // Braces in a team id would move the hash tag; ids are uuids, but do not trust that here.
    return `${this.prefix}{${teamId.replace(/[{}]/g, '_')}}`;
  }

  async reserve(req: ReserveRequest): Promise<Reservation> {
    const uuid = randomUUID();
    const scopes = [{ name: 'team', id: 't', l: compact(req.team) }];
    if (req.keyId !== undefined)
      scopes.push({ name: 'key', id: `k:${req.keyId}`, l: compact(req.key ?? {}) });
    const raw = await this.redis.corralQuotaReserve(
      this.base(req.teamId),
      JSON.stringify({ id: uuid, tokens: req.tokens, leaseMs: this.leaseMs, ttlMs: this.ttlMs, scopes }),
    );
    const r = JSON.parse(raw) as ReserveReply;
    const snapshot: LimitsSnapshot = { requests: toWindow(r.snap.requests), tokens: toWindow(r.snap.tokens) };
    if (!snapshot.requests) delete snapshot.requests;
    if (!snapshot.tokens) delete snapshot.tokens;
    if (r.ok)
      return { admitted: true, reservationId: encodeId(req.teamId, uuid), tokens: req.tokens, snapshot };
    return {
      admitted: false,
      limit: r.limit!,
      scope: r.scope!,
      limitValue: Number(r.value),
      retryAfterMs: r.retry === undefined ? null : Number(r.retry),
      ...(r.until !== undefined ? { until: Number(r.until) } : {}),
      snapshot,
    };
  }

  async settle(reservationId: string, actualTokens: number): Promise<Settlement | null> {
    const id = decodeId(reservationId);
    if (!id) return null;
    const actual = Math.min(MAX_LIMIT, Math.max(0, Math.round(actualTokens) || 0));
    const r = await this.redis.corralQuotaSettle(this.base(id.teamId), id.uuid, String(actual));
    if (!r) return null;
    const reserved = Number(r[0]);
    return { reserved, charged: actual, refunded: Math.max(0, reserved - actual) };
  }

  async renew(reservationId: string): Promise<boolean> {
    const id = decodeId(reservationId);
    if (!id) return false;
    return (await this.redis.corralQuotaRenew(this.base(id.teamId), id.uuid, String(this.leaseMs))) === 1;
  }

  async usage(teamId: string, keyId?: string): Promise<ScopeUsage> {
    const p = `${this.base(teamId)}:${keyId === undefined ? 't' : `k:${keyId}`}`;
    const [t] = await this.redis.time();
    const now = Number(t) * 1000;
    const periods = periodsAt(now);
    const m = this.redis.multi();
    m.hget(`${p}:rpm`, 'l');
    m.hget(`${p}:tpm`, 'l');
    m.zcount(`${p}:conc`, `(${now}`, '+inf');
    m.get(`${p}:d${periods.day}`);
    m.get(`${p}:m${periods.month}`);
    const res = (await m.exec()) ?? [];
    const n = (i: number) => Number((res[i]?.[1] as string | null) ?? 0);
    return { requests: n(0), tokens: n(1), concurrent: n(2), dailyTokens: n(3), monthlyTokens: n(4) };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Only the counters the script enforces, without nulls (cjson would turn them into userdata). */
function compact(l: StoreLimits): Record<string, number> {
  const out: Record<string, number> = {};
  const map: [keyof StoreLimits, string][] = [
    ['requestsPerMinute', 'rpm'],
    ['tokensPerMinute', 'tpm'],
    ['concurrentRequests', 'conc'],
    ['dailyTokens', 'day'],
    ['monthlyTokens', 'month'],
  ];
  for (const [from, to] of map) {
    const v = l[from];
    if (typeof v === 'number') out[to] = v;
  }
  return out;
}

function toWindow(v: [string, string, string] | undefined): WindowState | undefined {
  return v && { limit: Number(v[0]), remaining: Number(v[1]), resetMs: Number(v[2]) };
}

function encodeId(teamId: string, uuid: string): string {
  return `${Buffer.from(teamId).toString('base64url')}.${uuid}`;
}

function decodeId(id: string): { teamId: string; uuid: string } | undefined {
  const dot = id.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return { teamId: Buffer.from(id.slice(0, dot), 'base64url').toString(), uuid: id.slice(dot + 1) };
}
