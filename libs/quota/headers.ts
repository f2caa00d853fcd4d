/**
 * What a caller sees of quotas: OpenAI's x-ratelimit-* headers on every response, Retry-After and a
 * 429 body naming the limit on a refusal. The dialect (Ollama/OpenAI) of the body is the global
 * exception filter's business; the headers ride on the error (QuotaExceededError.headers) and are
 * put on the reply by QuotaInterceptor or by `applyHeaders`.
 */
import { CorralError } from '@corral/common';
import type { QuotaRefusal } from '@corral/serving';
import type { LimitName, LimitsSnapshot, Reservation } from './store';

/** Go's time.Duration style, as OpenAI sends it: "20ms", "1s", "6m0s", "1h2m3.5s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = (total % 60_000) / 1000;
  const sec = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  if (h) return `${h}h${m}m${sec}`;
  if (m) return `${m}m${sec}`;
  return sec;
}

/** `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the limits that apply. */
export function rateLimitHeaders(snapshot: LimitsSnapshot): Record<string, string> {
  const h: Record<string, string> = {};
  for (const kind of ['requests', 'tokens'] as const) {
    const w = snapshot[kind];
    if (!w) continue;
    h[`x-ratelimit-limit-${kind}`] = String(w.limit);
    h[`x-ratelimit-remaining-${kind}`] = String(w.remaining);
    h[`x-ratelimit-reset-${kind}`] = formatDuration(w.resetMs);
  }
  return h;
}

const LIMIT_WORDS: Record<LimitName, string> = {
  requestsPerMinute: 'requests per minute',
  tokensPerMinute: 'tokens per minute',
  concurrentRequests: 'concurrent requests',
  dailyTokens: 'daily token budget',
  monthlyTokens: 'monthly token budget',
};

/** A refused admission: 429 with the limit named, Retry-After and the rate-limit headers. */
export class QuotaExceededError extends CorralError implements QuotaRefusal {
  constructor(
    message: string,
    readonly limit: LimitName,
    readonly headers: Record<string, string>,
    readonly retryAfterMs: number | null,
    readonly until?: Date,
    budget = false,
    /** Whose limit: the team's or the API key's. */
    readonly scope?: 'team' | 'key',
  ) {
    super(budget ? 'quota_exceeded' : 'rate_limited', message);
  }
}

export function refusalError(
  r: Extract<Reservation, { admitted: false }>,
  requested: number,
): QuotaExceededError {
  const who = r.scope === 'team' ? "your team's" : "this API key's";
  const what = `${LIMIT_WORDS[r.limit]} (${r.limit} = ${r.limitValue})`;
  const headers = rateLimitHeaders(r.snapshot);
  let message: string;
  if (r.retryAfterMs === null) {
    message =
      r.limit === 'requestsPerMinute' || r.limit === 'concurrentRequests'
        ? `${who} ${what} allows no requests`
        : `request too large: it needs ${requested} tokens, more than ${who} ${what}`;
  } else {
    headers['retry-after'] = String(Math.max(1, Math.ceil(r.retryAfterMs / 1000)));
    headers['retry-after-ms'] = String(r.retryAfterMs);
    message =
      r.until !== undefined
        ? `${who} ${what} is used up until ${new Date(r.until).toISOString()}`
        : `rate limit reached: ${who} ${what}; please try again in ${formatDuration(r.retryAfterMs)}`;
  }
  const budget = r.limit === 'dailyTokens' || r.limit === 'monthlyTokens';
  return new QuotaExceededError(
    message,
    r.limit,
    headers,
    r.retryAfterMs,
    r.until !== undefined ? new Date(r.until) : undefined,
    budget,
    r.scope,
  );
}

/** Anything with Fastify's `reply.header(name, value)`. */
export interface HeaderSink {
  header(name: string, value: string): unknown;
}

export function applyHeaders(reply: HeaderSink, headers: Record<string, string>): void {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
}
