/**
 * Admission: turns a request (team, key, model, prompt size, completion budget) into a reservation
 * against every applicable limit, or a CorralError the global filter renders in the caller's
 * dialect (400 for a request no limit can ever admit, 403 for a model the policy does not allow,
 * 429 with headers when a limit is reached). Framework-free so the request path, the benchmark and
 * tests call the same code; QuotaModule provides it to Nest.
 */
import { Logger } from '@nestjs/common';
import { CorralError } from '@corral/common';
import type { FairShare } from '@corral/dispatch';
import type { Admission as GateAdmission, AdmitRequest, QuotaGate, QuotaRefusal } from '@corral/serving';
import { rateLimitHeaders, refusalError } from './headers';
import { effectivePolicy, MAX_LIMIT, modelAllowed, type EffectivePolicy, type Limits } from './policy';
import type { PolicySource } from './policy-cache';
import { DEFAULT_LEASE_MS, type QuotaStore, type Settlement, type StoreLimits } from './store';

/** A request the policy refuses before anything is reserved (403 model, 400 prompt too large). */
export class PolicyRefusal extends CorralError implements QuotaRefusal {
  constructor(
    code: 'forbidden' | 'bad_request',
    message: string,
    param: string,
    /** The policy field that refused it (team and key combined). */
    readonly limit: 'allowedModels' | 'maxTokensPerRequest',
  ) {
    super(code, message, param);
  }
}

/** Serving's port declares the request; quota implements the port (QuotaService is QUOTA_GATE). */
export type { AdmitRequest };

export interface Admission extends GateAdmission {
  /** Null when no counter applies (no limits set): nothing to settle. */
  reservationId: string | null;
  /** Tokens reserved: prompt plus completion budget. */
  estimate: number;
  /** The completion budget to enforce on generation (lowered to fit the per-request limit). */
  maxTokens: number;
  /** x-ratelimit-* headers for the response. */
  headers: Record<string, string>;
  /** For the scheduler's FairQueue. */
  share: FairShare;
  policy: EffectivePolicy;
  /** Settles the actual tokens used (prompt + completion); idempotent; stops lease renewal. */
  settle(actualTokens: number): Promise<Settlement | null>;
}

export interface QuotaServiceOptions {
  /** Completion budget when neither the caller nor the model gives one. Defaults to 4096. */
  fallbackMaxTokens?: number;
  /** Lease length of the store, to renew concurrency slots in time. Defaults to 30 s. */
  leaseMs?: number;
}

const STORE_FIELDS = [
  'requestsPerMinute',
  'tokensPerMinute',
  'concurrentRequests',
  'dailyTokens',
  'monthlyTokens',
] as const;

function storeLimits(l: Limits | undefined): StoreLimits {
  const out: StoreLimits = {};
  for (const f of STORE_FIELDS) if (typeof l?.[f] === 'number') out[f] = l[f];
  return out;
}

export class QuotaService implements QuotaGate {
  private readonly logger = new Logger('Quota');
  private readonly fallbackMaxTokens: number;
  private readonly leaseMs: number;

  constructor(
    private readonly store: QuotaStore,
    private readonly policies: PolicySource,
    opts: QuotaServiceOptions = {},
  ) {
    this.fallbackMaxTokens = opts.fallbackMaxTokens ?? 4096;
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  }

  async policyFor(teamId: string, keyId?: string): Promise<EffectivePolicy> {
    const [team, key] = await Promise.all([
      this.policies.team(teamId),
      keyId === undefined ? undefined : this.policies.key(keyId),
    ]);
    return effectivePolicy(team, key);
  }

  async admit(req: AdmitRequest): Promise<Admission> {
    if (!Number.isInteger(req.promptTokens) || req.promptTokens < 0)
      throw new CorralError('bad_request', 'prompt token count must be a whole number ≥ 0');
    if (req.maxTokens !== undefined && (!Number.isInteger(req.maxTokens) || req.maxTokens < 0))
      throw new CorralError('bad_request', 'max_tokens must be a whole number ≥ 0', 'max_tokens');
    const policy = await this.policyFor(req.teamId, req.keyId);
    const c = policy.combined;
    if (!modelAllowed(policy, req.model))
      throw new PolicyRefusal(
        'forbidden',
        `model '${req.model}' is not allowed by your quota policy`,
        'model',
        'allowedModels',
      );
    const perRequest = c.maxTokensPerRequest ?? Infinity;
    if (req.promptTokens > perRequest)
      throw new PolicyRefusal(
        'bad_request',
        `the prompt is ${req.promptTokens} tokens, more than the ${perRequest} tokens a request may use (maxTokensPerRequest)`,
        'messages',
        'maxTokensPerRequest',
      );
    const asked = req.maxTokens ?? req.defaultMaxTokens ?? this.fallbackMaxTokens;
    // Counters are whole tokens (Redis INCRBY): a model default like ctx − prompt is floored, NaN is 0.
    const maxTokens = Math.max(0, Math.floor(Math.min(asked, perRequest - req.promptTokens, MAX_LIMIT)) || 0);
    const estimate = req.promptTokens + maxTokens;
    const share: FairShare = { team: req.teamId, weight: policy.weight, priority: policy.priority };
    const team = storeLimits(policy.team);
    const key = req.keyId === undefined ? undefined : storeLimits(policy.key);
    const none = {
      reservationId: null,
      estimate,
      maxTokens,
      headers: {},
      share,
      policy,
      settle: () => Promise.resolve(null),
    };
    if (!Object.keys(team).length && !Object.keys(key ?? {}).length) return none;

    let r: Awaited<ReturnType<QuotaStore['reserve']>>;
    try {
      r = await this.store.reserve({ teamId: req.teamId, keyId: req.keyId, tokens: estimate, team, key });
    } catch (e) {
      // Fail closed: admitting without counting is how budgets get overrun.
      this.logger.error(`quota store unavailable: ${(e as Error).message}`);
      throw new CorralError('unavailable', 'quota check unavailable, please try again');
    }
    if (!r.admitted) throw refusalError(r, estimate);
    const reservationId = r.reservationId;
    // A long generation keeps its concurrency slot by renewing the lease; a dead gateway stops renewing.
    const conc = team.concurrentRequests !== undefined || key?.concurrentRequests !== undefined;
    const timer = conc
      ? setInterval(() => void this.store.renew(reservationId).catch(() => undefined), this.leaseMs / 3)
      : undefined;
    timer?.unref();
    let settled: Promise<Settlement | null> | undefined;
    return {
      reservationId,
      estimate,
      maxTokens,
      headers: rateLimitHeaders(r.snapshot),
      share,
      policy,
      settle: (actual) => {
        clearInterval(timer);
        // The response is already out: a failed settle is logged, never thrown at the caller. The
        // reservation stays charged (conservative) and the lease expires on its own.
        settled ??= this.store.settle(reservationId, actual).catch((e: unknown) => {
          this.logger.error(`settling ${reservationId} failed: ${(e as Error).message}`);
          return null;
        });
        return settled;
      },
    };
  }
}
