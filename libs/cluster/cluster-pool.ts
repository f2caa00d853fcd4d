/**
 * A gateway's view of the cluster, and the scheduler's source of workers in cluster mode (it stands
 * where the embedded WorkerPool stands). It keeps this gateway's lease alive, discovers workers from
 * their heartbeats, declares a worker gone when its heartbeat lapses, and reads this gateway's reply
 * stream (XREAD BLOCK), handing each reply to the link of the worker that wrote it.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { workerStallTimeoutMs } from '@corral/config';
import type { WorkerLink, WorkerSource } from '@corral/dispatch';
import { ClusterKeys, HEARTBEAT_MS, HEARTBEAT_TTL_MS, type QueuedJob } from './keys';
import { connectRedis, withDeadline } from './redis';
import { RedisWorkerLink } from './redis-worker-link';
import { type WorkerStatus, WorkerStatusSchema } from './status';

export interface ClusterPoolOptions {
  redisUrl: string;
  prefix: string;
  gatewayId?: string;
  /** How often the worker list is read. Defaults to 1 s. */
  pollMs?: number;
  /**
   * A worker whose heartbeat has not changed for this long is declared gone (a stopped process keeps
   * its TCP connections, so only the heartbeat's content tells). Defaults to CORRAL_WORKER_STALL_TIMEOUT, else 10 s.
   */
  stallTimeoutMs?: number;
}

/** How long a gateway's tombstone for a worker it declared gone stays in Redis. */
const TOMBSTONE_TTL_MS = 10 * 60_000;

/** A job the worker does not list as running this long after it was sent is lost (e.g. Redis restarted). */
const LOST_JOB_GRACE_MS = 15_000;

export class ClusterPool implements WorkerSource {
  readonly gatewayId: string;
  readonly keys: ClusterKeys;
  private readonly logger = new Logger('Cluster');
  private readonly redis: Redis;
  private readonly reader: Redis;
  private readonly links = new Map<string, RedisWorkerLink>();
  private readonly lastSeen = new Map<string, number>();
  private readonly upCbs: ((w: WorkerLink) => void)[] = [];
  private readonly downCbs: ((w: WorkerLink, reason: string) => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private lastPollOk = Date.now();
  private closing = false;
  private readerDone?: Promise<void>;
  private redisDown = false;
  /** When the Redis connection last became ready: heartbeats lost in a restart need a beat to return. */
  private redisReadyAt = Date.now();
  private readonly stallMs: number;

  constructor(private readonly opts: ClusterPoolOptions) {
    this.stallMs = opts.stallTimeoutMs ?? workerStallTimeoutMs();
    this.gatewayId = opts.gatewayId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.keys = new ClusterKeys(opts.prefix);
    this.redis = connectRedis(opts.redisUrl, `corral-gateway-${this.gatewayId}`);
    this.reader = connectRedis(opts.redisUrl, `corral-gateway-${this.gatewayId}-replies`);
    this.redis.on('reconnecting', () => {
      if (!this.redisDown) this.logger.warn('Redis connection lost; reconnecting');
      this.redisDown = true;
    });
    this.redis.on('ready', () => {
      if (this.redisDown) this.logger.log('Redis connection restored');
      this.redisDown = false;
      this.redisReadyAt = Date.now();
    });
  }

  start(): void {
    void this.lease();
    void this.poll();
    this.timers = [
      setInterval(() => void this.lease(), HEARTBEAT_MS),
      setInterval(() => void this.poll(), this.opts.pollMs ?? 1000),
    ];
    for (const t of this.timers) t.unref();
    this.readerDone = this.readReplies();
  }

  workers(): RedisWorkerLink[] {
    return [...this.links.values()].filter((l) => !l.gone);
  }

  /** Every live worker's last heartbeat. */
  statuses(): WorkerStatus[] {
    return [...this.links.values()].filter((l) => !l.gone).map((l) => l.status);
  }

  status(workerId: string): WorkerStatus | undefined {
    const l = this.links.get(workerId);
    return l && !l.gone ? l.status : undefined;
  }

  onWorkerUp(cb: (w: WorkerLink) => void): void {
    this.upCbs.push(cb);
  }

  onWorkerDown(cb: (w: WorkerLink, reason: string) => void): void {
    this.downCbs.push(cb);
  }

  /** Resolves when at least one worker is known, or rejects after the timeout. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.workers().length === 0) {
      if (Date.now() > until) throw new Error('no cluster worker announced itself in Redis');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async lease(): Promise<void> {
    if (this.closing) return;
    try {
      await withDeadline(
        this.redis
          .multi()
          .set(this.keys.gateway(this.gatewayId), String(Date.now()), 'PX', HEARTBEAT_TTL_MS)
          .pexpire(this.keys.replies(this.gatewayId), 120_000)
          .exec(),
        HEARTBEAT_MS,
        'gateway lease',
      );
    } catch {
      // Redis is away; the poll below notices and fails what cannot finish.
    }
  }

  private async poll(): Promise<void> {
    if (this.closing) return;
    const now = Date.now();
    let statuses: (string | null)[];
    let ids: string[];
    try {
      ids = await withDeadline(this.redis.smembers(this.keys.workers), 1500, 'worker list');
      statuses = ids.length
        ? await withDeadline(this.redis.mget(ids.map((id) => this.keys.worker(id))), 1500, 'worker status')
        : [];
      this.lastPollOk = now;
    } catch {
      // Redis unreachable: after a whole TTL without a successful read, no worker can be trusted.
      if (now - this.lastPollOk > HEARTBEAT_TTL_MS) {
        for (const l of this.workers()) this.down(l, 'Redis unreachable: worker heartbeats cannot be read');
      }
      return;
    }
    const present = new Set<string>();
    ids.forEach((id, i) => {
      const raw = statuses[i];
      if (!raw) {
        void this.redis.srem(this.keys.workers, id).catch(() => undefined);
        return;
      }
      let status: WorkerStatus;
      try {
        status = WorkerStatusSchema.parse(JSON.parse(raw));
      } catch (e) {
        this.logger.warn(`worker ${id} published an invalid heartbeat: ${(e as Error).message}`);
        return;
      }
      present.add(id);
      this.lastSeen.set(id, now);
      const link = this.links.get(id);
      if (link && !link.gone) {
        if (status.at !== link.status.at) link.freshAt = now;
        link.status = status;
        link.info = status.info;
        this.reapLostJobs(link, status);
        return;
      }
      this.up(id, status);
    });
    for (const link of this.workers()) {
      // A stopped worker's key lapses only a TTL after its last beat; its heartbeat's `at` stops
      // changing at once. Measured on this gateway's clock (no clock skew), and not right after a
      // Redis restart, when every worker needs a beat to write its key again.
      const silent = now - link.freshAt;
      if (silent > this.stallMs && now - this.redisReadyAt > this.stallMs) {
        this.down(
          link,
          `it stopped responding: its heartbeat has not changed for ${(silent / 1000).toFixed(0)} s`,
          true,
        );
        continue;
      }
      if (present.has(link.id)) continue;
      const seen = this.lastSeen.get(link.id) ?? 0;
      if (now - seen > HEARTBEAT_TTL_MS) {
        this.down(link, `its heartbeat lapsed ${((now - seen) / 1000).toFixed(0)} s ago`);
      }
    }
  }

  /**
   * Jobs the worker has no trace of long after they were sent never reach it (a Redis restart lost
   * the queue): they fail instead of waiting forever. Only jobs older than the grace are judged, and
   * only when the worker reports no job at all (a cheap signal that needs no job list in heartbeats).
   */
  private reapLostJobs(link: RedisWorkerLink, status: WorkerStatus): void {
    if (status.jobs > 0) return;
    for (const [id, sentAt] of link.outstanding) {
      if (status.at - sentAt > LOST_JOB_GRACE_MS) {
        link.failJob(id, `the job never reached worker ${link.id} (lost in a Redis outage?)`);
      }
    }
  }

  private up(id: string, status: WorkerStatus): void {
    const queue = new Queue<QueuedJob>(this.keys.queue(id), {
      connection: this.redis,
      prefix: this.keys.bull,
    });
    const link = new RedisWorkerLink(id, status, this.gatewayId, this.keys, this.redis, queue, (l) =>
      this.logger.warn(l),
    );
    this.links.set(id, link);
    this.logger.log(
      `worker ${id} on ${status.host} joined: backend ${status.info.backend}, ` +
        `${(status.memoryBytes / 2 ** 20).toFixed(0)} MiB budget, ${status.models.length} model(s) loaded`,
    );
    for (const cb of this.upCbs) cb(link);
  }

  private down(link: RedisWorkerLink, reason: string, stalled = false): void {
    if (link.gone) return;
    this.logger.warn(`worker ${link.id} is gone: ${reason}`);
    // A worker cannot be killed from here: if it comes back, the tombstone tells it to drop what it
    // was doing (this gateway has failed or re-dispatched those jobs) before it announces itself again.
    void this.redis
      .set(this.keys.dead(link.id), String(link.status.at), 'PX', TOMBSTONE_TTL_MS)
      .catch(() => undefined);
    link.markGone(reason, stalled);
    this.links.delete(link.id);
    void link.close();
    // Whatever is still queued for it will never run: drop the queue's keys (a worker that was only
    // cut off and comes back starts over as a new link, and gets new jobs).
    const queue = new Queue(this.keys.queue(link.id), { connection: this.redis, prefix: this.keys.bull });
    void queue
      .obliterate({ force: true })
      .catch(() => undefined)
      .finally(() => void queue.close());
    for (const cb of this.downCbs) cb(link, reason);
  }

  private async readReplies(): Promise<void> {
    const stream = this.keys.replies(this.gatewayId);
    let last = '0-0';
    while (!this.closing) {
      let res: [string, [string, string[]][]][] | null;
      try {
        res = (await this.reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', stream, last)) as
          [string, [string, string[]][]][] | null;
      } catch {
        if (this.closing) return;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!res) continue;
      for (const [, entries] of res) {
        for (const [entryId, fields] of entries) {
          last = entryId;
          let w = '';
          let m = '';
          for (let i = 0; i + 1 < fields.length; i += 2) {
            if (fields[i] === 'w') w = fields[i + 1]!;
            else if (fields[i] === 'm') m = fields[i + 1]!;
          }
          this.links.get(w)?.receive(m);
        }
      }
      // What was read is no longer needed.
      this.redis.xtrim(stream, 'MINID', last).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.links.values()].map((l) => l.close()));
    this.links.clear();
    this.reader.disconnect();
    await this.readerDone?.catch(() => undefined);
    await this.redis
      .multi()
      .del(this.keys.gateway(this.gatewayId))
      .del(this.keys.replies(this.gatewayId))
      .exec()
      .catch(() => undefined);
    this.redis.disconnect();
  }
}
