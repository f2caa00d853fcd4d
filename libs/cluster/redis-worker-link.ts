/**
 * The gateway's end of one remote worker: the WorkerLink the scheduler talks to. Jobs go into the
 * worker's BullMQ queue; cancellations go out on its pub/sub channel; replies arrive through this
 * gateway's reply stream (ClusterPool reads it and hands each entry to the link of the worker that
 * wrote it). Messages are validated here as they are in the embedded transport.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type FromWorker,
  FromWorkerSchema,
  type ToWorkerInput,
  type WorkerInfo,
  checkToWorker,
} from '@corral/worker-protocol';
import { type WorkerLink, isWellFormedChunk } from '@corral/dispatch';
import type { ClusterKeys, QueuedJob } from './keys';
import type { WorkerStatus } from './status';

/** How long a job may sit unsent while Redis is unreachable before it fails. */
const ENQUEUE_DEADLINE_MS = 10_000;
const TERMINAL = new Set(['done', 'error', 'loaded', 'unloaded', 'embeddings', 'tokenized']);

export class RedisWorkerLink implements WorkerLink {
  info?: WorkerInfo;
  status: WorkerStatus;
  private readonly messageCbs: ((m: FromWorker) => void)[] = [];
  private readonly exitCbs: ((reason: string) => void)[] = [];
  private exited = false;
  /** Set when the worker was declared gone for a heartbeat that stopped changing (a stopped process). */
  stalled = false;
  /** Local time the last heartbeat with a new `at` was read (ClusterPool's stall watchdog). */
  freshAt = Date.now();
  /** Jobs sent and not yet answered with a terminal message. */
  readonly outstanding = new Map<string, number>();

  constructor(
    readonly id: string,
    status: WorkerStatus,
    private readonly gatewayId: string,
    private readonly keys: ClusterKeys,
    private readonly redis: Redis,
    private readonly queue: Queue<QueuedJob>,
    private readonly log: (line: string) => void,
  ) {
    this.status = status;
    this.info = status.info;
  }

  get gone(): boolean {
    return this.exited;
  }

  send(input: ToWorkerInput): void {
    if (this.exited) return;
    const checked = checkToWorker(input, 'job');
    if (!checked.ok) return this.deliver(checked.reply);
    const msg = checked.msg;
    if (msg.type === 'shutdown') return;
    if (msg.type === 'cancel') {
      this.redis.publish(this.keys.cancel(this.id), msg.id).catch(() => undefined);
      return;
    }
    this.outstanding.set(msg.id, Date.now());
    let sent = false;
    const deadline = setTimeout(() => {
      if (sent || !this.outstanding.has(msg.id)) return;
      this.deliver({
        type: 'error',
        id: msg.id,
        code: 'internal',
        message: `could not hand the job to worker ${this.id}: Redis is unreachable`,
      });
    }, ENQUEUE_DEADLINE_MS);
    deadline.unref();
    this.queue
      .add(
        msg.type,
        { msg, gateway: this.gatewayId, sentAt: Date.now() },
        { jobId: msg.id, removeOnComplete: true, removeOnFail: true },
      )
      .then(
        () => {
          sent = true;
          clearTimeout(deadline);
        },
        (e: unknown) => {
          clearTimeout(deadline);
          this.deliver({
            type: 'error',
            id: msg.id,
            code: 'internal',
            message: `could not queue the job for worker ${this.id}: ${e instanceof Error ? e.message : String(e)}`,
          });
        },
      );
  }

  /** One entry of the reply stream, as the worker wrote it (JSON text). */
  receive(raw: string): void {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      this.log(`[gateway] worker ${this.id} sent a reply that is not JSON`);
      return;
    }
    if (isWellFormedChunk(value)) return this.deliver(value);
    const parsed = FromWorkerSchema.safeParse(value);
    if (!parsed.success) {
      this.log(`[gateway] worker ${this.id} sent an invalid message: ${parsed.error.message}`);
      return;
    }
    this.deliver(parsed.data);
  }

  /** Fails one job as if the worker had answered with this error (lost jobs, Redis outages). */
  failJob(id: string, message: string): void {
    this.deliver({ type: 'error', id, code: 'internal', message });
  }

  private deliver(m: FromWorker): void {
    if (m.type !== 'hello') {
      if (!this.outstanding.has(m.id) && m.type !== 'chunk' && TERMINAL.has(m.type)) return;
      if (TERMINAL.has(m.type)) this.outstanding.delete(m.id);
    }
    for (const cb of this.messageCbs) cb(m);
  }

  onMessage(cb: (m: FromWorker) => void): void {
    this.messageCbs.push(cb);
  }

  onExit(cb: (reason: string) => void): void {
    this.exitCbs.push(cb);
  }

  markGone(reason: string, stalled = false): void {
    if (this.exited) return;
    this.stalled = stalled;
    this.exited = true;
    this.outstanding.clear();
    for (const cb of this.exitCbs) cb(reason);
  }

  async close(): Promise<void> {
    this.markGone('gateway shutting down');
    await this.queue.close().catch(() => undefined);
  }
}
