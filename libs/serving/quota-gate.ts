/**
 * The port through which metering asks for admission. Serving declares it and owns its types;
 * the quota feature (libs/quota, QuotaService) implements it and provides QUOTA_GATE, so the
 * dependency points one way: quota → serving. Without a provider (a gateway built without the
 * quota module, some benchmarks) requests are only observed, never refused.
 */
import type { FairShare, Priority } from '@corral/dispatch';

/** What metering asks the gate to admit. */
export interface AdmitRequest {
  teamId: string;
  /** The API key used; omitted for session (web console) requests. */
  keyId?: string;
  model: string;
  /** Prompt tokens counted with the model's own tokenizer (`Scheduler.tokenize(target, text).length`). */
  promptTokens: number;
  /** The caller's max_tokens / num_predict, if it gave one. */
  maxTokens?: number;
  /** The model's default completion budget when the caller gave none (e.g. context length − prompt). */
  defaultMaxTokens?: number;
}

/** The limits of one scope, as far as metering reads them. */
export interface GateLimits {
  maxTokensPerRequest?: number | null;
  allowedModels?: readonly string[] | null;
}

/** The policy that applies to a caller (team and key), as far as metering reads it. */
export interface GatePolicy {
  team: GateLimits;
  key?: GateLimits;
  /** Team and key combined; empty when no numeric limit applies. */
  combined: GateLimits;
  weight: number;
  priority: Priority;
}

/** An admitted request: what it may use and how to settle it. */
export interface Admission {
  /** Null when no counter applies (no limits set): nothing to settle. */
  reservationId: string | null;
  /** The completion budget to enforce on generation (lowered to fit the per-request limit). */
  maxTokens: number;
  /** x-ratelimit-* headers for the response. */
  headers: Record<string, string>;
  /** For the scheduler's FairQueue. */
  share: FairShare;
  policy: GatePolicy;
  /** Settles the actual tokens used (prompt + completion); idempotent. */
  settle(actualTokens: number): Promise<unknown>;
}

/** Admission, as the quota feature provides it (QuotaService). */
export interface QuotaGate {
  admit(req: AdmitRequest): Promise<Admission>;
  policyFor(teamId: string, keyId?: string): Promise<GatePolicy>;
}
export const QUOTA_GATE = Symbol('corral.serving.quota-gate');

/**
 * What a refusal thrown by `admit` says about itself: the limit it hit and whose it was
 * (QuotaExceededError, PolicyRefusal of libs/quota implement it).
 */
export interface QuotaRefusal {
  readonly limit: string;
  readonly scope?: 'team' | 'key';
}

/**
 * The refused limit as observers report it (`team.tokensPerMinute`, or `allowedModels` for a
 * refusal before any reservation); undefined for any other error. Structural, since serving does
 * not import the quota feature that throws it.
 */
export function refusedLimit(e: unknown): string | undefined {
  const r = e as Partial<Record<keyof QuotaRefusal, unknown>> | null | undefined;
  if (typeof r?.limit !== 'string') return undefined;
  return typeof r.scope === 'string' ? `${r.scope}.${r.limit}` : r.limit;
}
