/** Redis connections for the cluster: reconnect forever with capped backoff (a Redis restart heals). */
import { Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from '@corral/common';

export function connectRedis(url: string, name: string, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    // BullMQ needs null here; for our own commands it means "wait for the reconnect" instead of failing.
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(2000, 100 * attempt),
    lazyConnect: false,
    ...extra,
  });
  // Without a listener ioredis prints every connection error; reconnects are logged by the owners.
  redis.on('error', () => undefined);
  return redis;
}

/** Rejects after `ms`: Redis commands queue while disconnected, and some callers must not wait. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(p, ms, () => new Error(`${what}: Redis did not answer within ${ms} ms`));
}
