/**
 * Slows brute force: failed authentications are counted per client address and per key id in a
 * fixed window; past the limit, further attempts get 429 (without being checked) until the window
 * ends. Per gateway replica.
 */
import { Logger } from '@nestjs/common';
import { CorralError } from '@corral/common';

export interface FailureLimiterOptions {
  /** Window length in ms. Defaults to 60000. */
  windowMs?: number;
  /** Failures allowed per client address per window. Defaults to 30. */
  perAddress?: number;
  /** Failures allowed per key id per window. Defaults to 10. */
  perKey?: number;
}

interface Counter {
  count: number;
  resetAt: number;
}

export class FailureLimiter {
  private readonly logger = new Logger('AuthAudit');
  private readonly counters = new Map<string, Counter>();
  private readonly windowMs: number;
  private readonly perAddress: number;
  private readonly perKey: number;

  constructor(opts: FailureLimiterOptions = {}) {
    this.windowMs = opts.windowMs ?? 60_000;
    this.perAddress = opts.perAddress ?? 30;
    this.perKey = opts.perKey ?? 10;
  }

  /** Throws 429 when the address or key id has failed too often in this window. */
  assertAllowed(address: string, keyId?: string, now = Date.now()): void {
    const blocked =
      this.over(`a:${address}`, this.perAddress, now) ||
      (keyId ? this.over(`k:${keyId}`, this.perKey, now) : undefined);
    if (blocked) {
      throw new CorralError(
        'rate_limited',
        `too many failed authentication attempts; retry in ${Math.ceil((blocked - now) / 1000)}s`,
      );
    }
  }

  recordFailure(address: string, keyId?: string, now = Date.now()): void {
    this.bump(`a:${address}`, now);
    if (keyId) this.bump(`k:${keyId}`, now);
    const n = this.counters.get(`a:${address}`)?.count ?? 0;
    if (n === this.perAddress) this.logger.warn(`authentication failures from ${address} reached the limit`);
    if (keyId && this.counters.get(`k:${keyId}`)?.count === this.perKey)
      this.logger.warn(`authentication failures for key ${keyId} reached the limit (last from ${address})`);
  }

  /** Reset time when over the limit, else undefined. */
  private over(id: string, limit: number, now: number): number | undefined {
    const c = this.counters.get(id);
    if (!c) return undefined;
    if (c.resetAt <= now) {
      this.counters.delete(id);
      return undefined;
    }
    return c.count >= limit ? c.resetAt : undefined;
  }

  private bump(id: string, now: number): void {
    const c = this.counters.get(id);
    if (!c || c.resetAt <= now) this.counters.set(id, { count: 1, resetAt: now + this.windowMs });
    else c.count++;
    if (this.counters.size > 100_000) this.prune(now);
  }

  private prune(now: number): void {
    for (const [k, c] of this.counters) if (c.resetAt <= now) this.counters.delete(k);
  }
}
