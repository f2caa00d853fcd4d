/**
 * Which gateways a cluster worker works for are still alive. Each gateway renews a lease key (TTL);
 * a gateway whose lease stayed away for a whole TTL died, and the worker stops its jobs and lets go
 * of the models only it held (the `gone` callback).
 */
import type { Redis } from 'ioredis';
import { type ClusterKeys, HEARTBEAT_MS, HEARTBEAT_TTL_MS } from '../keys';
import { withDeadline } from '../redis';

export class GatewayLeases {
  /** When each gateway was last known alive (its lease seen, or a job received from it). */
  private readonly lastSeen = new Map<string, number>();
  /** When the Redis connection last became ready: leases lost in a Redis restart need a beat to return. */
  private redisReadyAt = Date.now();

  constructor(
    private readonly redis: Redis,
    private readonly keys: ClusterKeys,
    private readonly gone: (gateway: string) => void,
  ) {}

  redisReady(): void {
    this.redisReadyAt = Date.now();
  }

  /** A job arrived from this gateway: it is alive. */
  seen(gateway: string): void {
    this.lastSeen.set(gateway, Date.now());
  }

  /** Reads the leases of these gateways; calls `gone` for each whose lease lapsed. */
  async check(gateways: Set<string>): Promise<void> {
    if (gateways.size === 0) return;
    const list = [...gateways];
    const alive = await withDeadline(
      this.redis.mget(list.map((g) => this.keys.gateway(g))),
      HEARTBEAT_MS,
      'gateway leases',
    );
    const now = Date.now();
    list.forEach((g, i) => {
      if (alive[i] !== null) {
        this.lastSeen.set(g, now);
        return;
      }
      const seen = this.lastSeen.get(g);
      if (seen === undefined) this.lastSeen.set(g, now);
      // Gone: no lease for a whole TTL since it was last seen alive. A Redis restart loses every
      // lease at once; live gateways renew theirs within a beat of Redis being back, so wait that out.
      if (seen === undefined || now - seen < HEARTBEAT_TTL_MS) return;
      if (now - this.redisReadyAt < HEARTBEAT_MS * 1.5) return;
      this.lastSeen.delete(g);
      this.gone(g);
    });
  }
}
