/**
 * Every Redis key, channel and BullMQ queue name the cluster uses, under one prefix, so several
 * clusters (or test runs) share one Redis without seeing each other.
 */
export class ClusterKeys {
  constructor(readonly prefix: string) {}

  /** Set of worker ids that have announced themselves (members may be stale: their status key decides). */
  get workers(): string {
    return `${this.prefix}:workers`;
  }
  /** A worker's heartbeat: its WorkerStatus as JSON, with a TTL. Gone = the worker is gone. */
  worker(id: string): string {
    return `${this.prefix}:worker:${id}`;
  }
  /** A gateway's lease (TTL): workers stop the jobs of a gateway whose lease lapsed. */
  gateway(id: string): string {
    return `${this.prefix}:gateway:${id}`;
  }
  /** The Redis Stream a gateway reads its jobs' replies (tokens, results, errors) from. */
  replies(gatewayId: string): string {
    return `${this.prefix}:replies:${gatewayId}`;
  }
  /**
   * Written by a gateway that declared a worker gone (its heartbeat lapsed or stopped changing), with
   * the `at` of the last heartbeat it saw. A worker that comes back (SIGCONT, a healed partition)
   * finds it and rejoins clean: it drops its jobs and models before its next heartbeat.
   */
  dead(workerId: string): string {
    return `${this.prefix}:dead:${workerId}`;
  }
  /** Pub/sub channel through which gateways cancel jobs on a worker. */
  cancel(workerId: string): string {
    return `${this.prefix}:cancel:${workerId}`;
  }
  /** BullMQ prefix (BullMQ adds `:<queue>:...`). */
  get bull(): string {
    return `${this.prefix}:bull`;
  }
  /** BullMQ queue name of one worker's jobs. */
  queue(workerId: string): string {
    return `jobs-${workerId}`;
  }
}

/** What a job in a worker's queue carries besides the protocol message. */
export interface QueuedJob {
  msg: unknown;
  gateway: string;
  sentAt: number;
}

/** Heartbeat period and the TTL after which a silent worker or gateway counts as gone. */
export const HEARTBEAT_MS = 2000;
export const HEARTBEAT_TTL_MS = 6000;
