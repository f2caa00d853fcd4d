/**
 * Feeds usage records to the database in batches, off the request path: `record()` only queues;
 * one writer loop sends a batch every `flushMs` (or as soon as `batchSize` are waiting), in order,
 * and retries a failed batch (the repository skips rows already written, so a retry never counts a
 * request twice). The queue is in memory: a crash loses what was not yet written. The audit log's
 * durable buffer can replace it later: it only needs to call `UsageBatchWriter.insertBatch`.
 */
import { Logger } from '@nestjs/common';
import type { UsageBatchWriter, UsageRecord, UsageSink } from './usage.types';

export interface BatchedUsageWriterOptions {
  /** Defaults to 1000 ms. */
  flushMs?: number;
  /** Defaults to 500. */
  batchSize?: number;
  /** Records kept while the database is down; beyond it the oldest are dropped and logged. Defaults to 100,000. */
  maxQueued?: number;
}

export class BatchedUsageWriter implements UsageSink {
  private readonly logger = new Logger('Usage');
  private readonly queue: UsageRecord[] = [];
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly maxQueued: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  private failures = 0;
  private closed = false;
  /** Records dropped because the queue was full. */
  dropped = 0;
  /** Records written. */
  written = 0;

  constructor(
    private readonly writer: UsageBatchWriter,
    opts: BatchedUsageWriterOptions = {},
  ) {
    this.flushMs = opts.flushMs ?? 1000;
    this.batchSize = opts.batchSize ?? 500;
    this.maxQueued = opts.maxQueued ?? 100_000;
  }

  get pending(): number {
    return this.queue.length;
  }

  record(r: UsageRecord): void {
    if (this.closed) throw new Error('usage writer is closed');
    if (this.queue.length >= this.maxQueued) {
      // Dropping the newest keeps the batch in flight (the queue's head) intact.
      if (this.dropped++ % 1000 === 0)
        this.logger.error(`usage queue full: dropped ${this.dropped} record(s)`);
      return;
    }
    this.queue.push(r);
    if (this.queue.length >= this.batchSize) this.kick(0);
    else this.kick(this.flushMs);
  }

  /** Writes everything queued so far; rejects if the database refuses. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    while (this.queue.length) await this.writeOne(true);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private kick(delay: number): void {
    if (this.timer && delay > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running ??= this.drain().finally(() => (this.running = undefined));
    }, delay);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      if (!(await this.writeOne(false))) {
        // Back off while the database is away; records wait in the queue.
        this.kick(Math.min(30_000, this.flushMs * 2 ** Math.min(this.failures, 5)));
        return;
      }
    }
  }

  /** One batch at a time, whoever asks (timer or flush): batches never overlap. */
  private writeOne(rethrow: boolean): Promise<boolean> {
    const next = this.chain.then(() => this.writeHead(rethrow));
    this.chain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private async writeHead(rethrow: boolean): Promise<boolean> {
    if (!this.queue.length) return true;
    const batch = this.queue.slice(0, this.batchSize);
    try {
      await this.writer.insertBatch(batch);
      this.queue.splice(0, batch.length);
      this.written += batch.length;
      this.failures = 0;
      return true;
    } catch (e) {
      this.failures++;
      if (rethrow) throw e;
      this.logger.warn(`writing ${batch.length} usage record(s) failed, will retry: ${(e as Error).message}`);
      return false;
    }
  }
}
