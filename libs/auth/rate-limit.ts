/**
 * Slows and reports credential guessing without ever refusing the right credential.
 *
 * API keys and session cookies carry 238 and 256 random bits: they cannot be guessed, so a correct
 * one is always let in (the guard checks it before it asks anything here). Failed attempts are
 * counted per client address and per key id in a fixed window; past a limit, further FAILED
 * attempts from that address, or naming that key id, answer 429 after a short delay. Attempts
 * while over the limit do not extend the window.
 *
 * Passwords can be guessed, so console login is refused before the password is checked once an
 * (account, address) pair or an address has failed too often (`assertLoginAllowed`). The pair is
 * the unit on purpose: failures from one address never lock the account out from another.
 *
 * Counters live in this gateway replica's memory; each of N replicas allows its own budget.
 */
import { Logger } from '@nestjs/common';
import { CorralError } from '@corral/common';

export interface FailureLimiterOptions {
  /** Window length in ms. Defaults to 60000. */
  windowMs?: number;
  /** Failed key/session authentications per client address per window before 429s. Defaults to 30. */
  perAddress?: number;
  /** Failed authentications naming one key id per window before 429s. Defaults to 10. */
  perKey?: number;
  /** Failed logins per (account, address) per window before login is refused. Defaults to 10. */
  perLogin?: number;
  /** Failed logins per address (any account: password spraying) per window. Defaults to 30. */
  perLoginAddress?: number;
  /** Delay before a throttled failure is answered, in ms. Defaults to 500. */
  delayMs?: number;
  /** Most throttled answers held back at once; past it they are answered at once. Defaults to 256. */
  maxDelayed?: number;
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
  private readonly perLogin: number;
  private readonly perLoginAddress: number;
  private readonly delayMs: number;
  private readonly maxDelayed: number;
  private delayed = 0;

  constructor(opts: FailureLimiterOptions = {}) {
    this.windowMs = opts.windowMs ?? 60_000;
    this.perAddress = opts.perAddress ?? 30;
    this.perKey = opts.perKey ?? 10;
    this.perLogin = opts.perLogin ?? 10;
    this.perLoginAddress = opts.perLoginAddress ?? 30;
    this.delayMs = opts.delayMs ?? 500;
    this.maxDelayed = opts.maxDelayed ?? 256;
  }

  /**
   * Counts one failed key or session authentication. Returns the 429 to answer with when the
   * address or key id is now over its limit, undefined when a plain 401 is the answer.
   */
  recordFailure(address: string, keyId?: string, now = Date.now()): ThrottledError | undefined {
    const a = this.bump(`a:${address}`, now);
    const k = keyId ? this.bump(`k:${keyId}`, now) : undefined;
    if (a.count === this.perAddress + 1)
      this.logger.warn(`authentication failures from ${address} passed the limit; now throttled`);
    if (keyId && k?.count === this.perKey + 1)
      this.logger.warn(`authentication failures naming key ${keyId} passed the limit (last from ${address})`);
    const over = [a.count > this.perAddress ? a : undefined, k && k.count > this.perKey ? k : undefined];
    const resetAt = Math.max(...over.map((c) => c?.resetAt ?? 0));
    return resetAt > 0 ? tooMany(resetAt, now) : undefined;
  }

  /**
   * Waits a little before a throttled answer, so a client retrying in a loop makes few attempts.
   * Bounded: beyond `maxDelayed` answers already waiting, the next one is answered at once.
   */
  async delay(): Promise<void> {
    if (this.delayMs <= 0 || this.delayed >= this.maxDelayed) return;
    this.delayed++;
    try {
      await new Promise((r) => setTimeout(r, this.delayMs));
    } finally {
      this.delayed--;
    }
  }

  /** Throws 429 when this account from this address, or this address, failed too often. */
  assertLoginAllowed(address: string, account: string, now = Date.now()): void {
    const resetAt = Math.max(
      this.over(`l:${account}\0${address}`, this.perLogin, now) ?? 0,
      this.over(`la:${address}`, this.perLoginAddress, now) ?? 0,
    );
    if (resetAt > 0) throw tooMany(resetAt, now);
  }

  recordLoginFailure(address: string, account: string, now = Date.now()): void {
    const pair = this.bump(`l:${account}\0${address}`, now);
    const addr = this.bump(`la:${address}`, now);
    if (pair.count === this.perLogin)
      this.logger.warn(`login failures for ${account} from ${address} reached the limit`);
    if (addr.count === this.perLoginAddress)
      this.logger.warn(`login failures from ${address} reached the limit`);
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

  private bump(id: string, now: number): Counter {
    let c = this.counters.get(id);
    if (!c || c.resetAt <= now) {
      c = { count: 1, resetAt: now + this.windowMs };
      this.counters.set(id, c);
    } else c.count++;
    if (this.counters.size > 100_000) this.prune(now);
    return c;
  }

  private prune(now: number): void {
    for (const [k, c] of this.counters) if (c.resetAt <= now) this.counters.delete(k);
  }
}

/** A 429 for failed authentications; `retryAfterS` goes out as Retry-After. */
export class ThrottledError extends CorralError {
  constructor(readonly retryAfterS: number) {
    super('rate_limited', `too many failed authentication attempts; retry in ${retryAfterS}s`);
  }
}

function tooMany(resetAt: number, now: number): ThrottledError {
  return new ThrottledError(Math.max(1, Math.ceil((resetAt - now) / 1000)));
}
