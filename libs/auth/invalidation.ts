/**
 * Tells every gateway that a cached key verification is stale (revoked, rotated, expired early, its
 * user changed). Embedded: in-process. Cluster: Redis pub/sub, so revocation reaches all replicas
 * within the one-second promise; the message is delivered locally at once either way.
 */
import { Logger } from '@nestjs/common';

/** `*` drops every cached entry (a user's role or status changed). */
export type InvalidationTarget = string;

/** A class, not an interface, so Nest can inject it by type. */
export abstract class InvalidationBus {
  abstract publish(target: InvalidationTarget): Promise<void>;
  abstract subscribe(cb: (target: InvalidationTarget) => void): void;
  abstract close(): Promise<void>;
}

export class LocalInvalidationBus extends InvalidationBus {
  protected readonly cbs: ((t: InvalidationTarget) => void)[] = [];

  publish(target: InvalidationTarget): Promise<void> {
    this.deliver(target);
    return Promise.resolve();
  }

  subscribe(cb: (t: InvalidationTarget) => void): void {
    this.cbs.push(cb);
  }

  protected deliver(target: InvalidationTarget): void {
    for (const cb of this.cbs) cb(target);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Minimal ioredis surface used here (keeps the type import optional). */
interface RedisLike {
  publish(channel: string, message: string): Promise<number>;
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', cb: (channel: string, message: string) => void): unknown;
  on(event: 'error', cb: (e: Error) => void): unknown;
  quit(): Promise<unknown>;
}

export class RedisInvalidationBus extends LocalInvalidationBus {
  private readonly logger = new Logger('AuthInvalidation');

  private constructor(
    private readonly pub: RedisLike,
    private readonly sub: RedisLike,
    private readonly channel: string,
  ) {
    super();
  }

  /**
   * Connects publisher and subscriber connections.
   * @param channel Pub/sub channel. Defaults to `corral:auth:invalidate`.
   */
  static async connect(url: string, channel = 'corral:auth:invalidate'): Promise<RedisInvalidationBus> {
    const { default: Redis } = await import('ioredis');
    const pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 }) as unknown as RedisLike;
    const sub = new Redis(url, { lazyConnect: false }) as unknown as RedisLike;
    const bus = new RedisInvalidationBus(pub, sub, channel);
    sub.on('message', (ch, msg) => {
      if (ch === channel) bus.deliver(msg);
    });
    const log = (e: Error) => bus.logger.warn(`redis: ${e.message}`);
    pub.on('error', log);
    sub.on('error', log);
    await sub.subscribe(channel);
    return bus;
  }

  override async publish(target: InvalidationTarget): Promise<void> {
    this.deliver(target);
    try {
      await this.pub.publish(this.channel, target);
    } catch (e) {
      // Other replicas fall back to the cache's freshness window; this one is already current.
      this.logger.warn(`could not publish invalidation: ${(e as Error).message}`);
    }
  }

  override async close(): Promise<void> {
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}
