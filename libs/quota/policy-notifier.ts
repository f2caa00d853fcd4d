/**
 * Tells every gateway that a policy changed so its cache drops the old one: an in-process event in
 * the embedded deployment, Redis pub/sub in a cluster. Delivery is best effort; the policy cache's
 * short expiry is the backstop for a message lost while a subscriber reconnects.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

export interface PolicyChange {
  kind: 'team' | 'key';
  id: string;
}

export interface PolicyNotifier {
  publish(change: PolicyChange): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(listener: (change: PolicyChange) => void): () => void;
  close(): Promise<void>;
}

export class LocalPolicyNotifier implements PolicyNotifier {
  private readonly events = new EventEmitter();

  publish(change: PolicyChange): Promise<void> {
    this.events.emit('change', change);
    return Promise.resolve();
  }

  subscribe(listener: (change: PolicyChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  close(): Promise<void> {
    this.events.removeAllListeners();
    return Promise.resolve();
  }
}

export interface RedisNotifierOptions {
  /** Pub/sub channel. Defaults to `corral:quota:policy`. */
  channel?: string;
}

export class RedisPolicyNotifier implements PolicyNotifier {
  private readonly local = new LocalPolicyNotifier();
  private readonly sub: Redis;
  private readonly channel: string;
  private readonly ready: Promise<unknown>;

  /** `redis` publishes; a duplicate connection subscribes (a subscribed connection can do nothing else). */
  constructor(
    private readonly redis: Redis,
    opts: RedisNotifierOptions = {},
  ) {
    this.channel = opts.channel ?? 'corral:quota:policy';
    this.sub = redis.duplicate();
    this.sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        const c = JSON.parse(message) as PolicyChange;
        if ((c.kind === 'team' || c.kind === 'key') && typeof c.id === 'string') void this.local.publish(c);
      } catch {
        // Not ours: ignore.
      }
    });
    this.ready = this.sub.subscribe(this.channel);
  }

  /** Resolves once the subscription is live (tests wait for it). */
  whenReady(): Promise<unknown> {
    return this.ready;
  }

  async publish(change: PolicyChange): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(change));
  }

  subscribe(listener: (change: PolicyChange) => void): () => void {
    return this.local.subscribe(listener);
  }

  async close(): Promise<void> {
    await this.local.close();
    await this.sub.quit();
  }
}
