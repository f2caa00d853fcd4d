/**
 * The quota store: atomic reserve-then-settle against per-team and per-key counters. Two
 * implementations (in memory for the embedded deployment, Redis + one Lua script per admission for
 * clusters) pass one contract suite (store.contract.ts). Nothing above this interface knows which
 * one runs.
 */
import type { Limits } from './policy';

/** The limits the store enforces; the per-request and model checks happen before it is called. */
export type StoreLimits = Pick<
  Limits,
  'requestsPerMinute' | 'tokensPerMinute' | 'concurrentRequests' | 'dailyTokens' | 'monthlyTokens'
>;

export type LimitName = keyof StoreLimits;

export interface ReserveRequest {
  teamId: string;
  /** Omitted for requests made with a session rather than a key: only team counters apply. */
  keyId?: string;
  /** Estimated cost: prompt tokens plus the completion budget. */
  tokens: number;
  team: StoreLimits;
  key?: StoreLimits;
}

export interface WindowState {
  limit: number;
  remaining: number;
  /** Until the window is back to its full allowance. */
  resetMs: number;
}

/** What the x-ratelimit-* headers report: the tighter of team and key. */
export interface LimitsSnapshot {
  requests?: WindowState;
  tokens?: WindowState;
}

export type Reservation =
  | { admitted: true; reservationId: string; tokens: number; snapshot: LimitsSnapshot }
  | {
      admitted: false;
      limit: LimitName;
      scope: 'team' | 'key';
      limitValue: number;
      /** When retrying can succeed; null when it never can (the request alone exceeds the limit). */
      retryAfterMs: number | null;
      /** For daily/monthly budgets: epoch ms when the budget renews (next UTC midnight / month). */
      until?: number;
      snapshot: LimitsSnapshot;
    };

export interface Settlement {
  /** Tokens reserved at admission. */
  reserved: number;
  /** Tokens actually used (charged). */
  charged: number;
  /** reserved − charged when positive: returned to every counter that was charged. */
  refunded: number;
}

export interface QuotaStore {
  reserve(req: ReserveRequest): Promise<Reservation>;
  /** Settles the actual count. Null when the reservation is unknown or already settled (idempotent). */
  settle(reservationId: string, actualTokens: number): Promise<Settlement | null>;
  /** Extends the concurrency lease of a long request; false when it has already expired or settled. */
  renew(reservationId: string): Promise<boolean>;
  /** Current usage of a scope, for tests and the admin API. */
  usage(teamId: string, keyId?: string): Promise<ScopeUsage>;
  close(): Promise<void>;
}

export interface ScopeUsage {
  /** Requests in the per-minute window (leaky-bucket level). */
  requests: number;
  tokens: number;
  concurrent: number;
  dailyTokens: number;
  monthlyTokens: number;
}

export interface StoreOptions {
  /** Concurrency lease lifetime; renewed by `renew`. A dead gateway's slots free after it. Defaults to 30 s. */
  leaseMs?: number;
  /** How long an unsettled reservation can still be settled. Defaults to 24 h. */
  reservationTtlMs?: number;
}

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_RESERVATION_TTL_MS = 86_400_000;
export const WINDOW_MS = 60_000;
