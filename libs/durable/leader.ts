/**
 * Who may run the appender. Embedded mode has one process, so it always leads; a cluster elects
 * one leader with a Redis lock that the holder renews. Losing the lock mid-batch cannot fork the
 * chain: every batch also takes a transaction-scoped advisory lock and `seq` is the primary key.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface LeaderLock {
  /** True when this process leads now (acquiring or renewing as needed). */
  acquire(): Promise<boolean>;
  release(): Promise<void>;
}

export class LocalLeader implements LeaderLock {
  acquire(): Promise<boolean> {
    return Promise.resolve(true);
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
}

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1]) else return 0 end`;

export interface RedisLeaderOptions {
  redis: Redis;
  /** Defaults to `corral:`. */
  prefix?: string;
  /** Lock lifetime; the holder renews at a third of it. Defaults to 10 s. */
  ttlMs?: number;
}

export class RedisLeader implements LeaderLock {
  readonly token = randomUUID();
  private readonly key: string;
  private readonly ttl: number;
  private heldUntil = 0;

  constructor(private readonly opts: RedisLeaderOptions) {
    this.key = `${opts.prefix ?? 'corral:'}audit:leader`;
    this.ttl = opts.ttlMs ?? 10_000;
  }

  async acquire(): Promise<boolean> {
    const now = Date.now();
    if (this.heldUntil - now > (this.ttl * 2) / 3) return true;
    const r = this.opts.redis;
    try {
      if (this.heldUntil > now) {
        const ok = (await r.eval(RENEW, 1, this.key, this.token, this.ttl)) === 1;
        this.heldUntil = ok ? now + this.ttl : 0;
        if (ok) return true;
      }
      const got = await r.set(this.key, this.token, 'PX', this.ttl, 'NX');
      this.heldUntil = got === 'OK' ? now + this.ttl : 0;
      return got === 'OK';
    } catch {
      this.heldUntil = 0;
      return false;
    }
  }

  async release(): Promise<void> {
    this.heldUntil = 0;
    await this.opts.redis.eval(RELEASE, 1, this.key, this.token).catch(() => undefined);
  }
}
