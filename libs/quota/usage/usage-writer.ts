/**
 * Feeds usage records to the database off the request path, through a durable buffer: `record()`
 * appends to a durable buffer (@corral/durable, as the audit log's: fsync'd spool files under `$CORRAL_HOME/usage-spool/`
 * in embedded mode, a Redis Stream `corral:usage:audit:stream` in a cluster) and returns at once;
 * one writer (the leader, in a cluster) reads batches in order, writes each in one transaction
 * (UsageRepository skips rows already written, so a replayed batch never counts twice) and only
 * then acknowledges it. A crash or a database outage loses nothing: what was appended is written
 * when the writer runs again.
 */
import { Logger } from '@nestjs/common';
import { DrainLoop, type BufferedEntry, type DurableBuffer, type LeaderLock } from '@corral/durable';
import type { UsageBatchWriter, UsageRecord, UsageSink } from './usage.types';

/**
 * The stored shape of a usage record. It is the audit log's `content` record (that is where usage
 * first rode, and what spools and streams already hold), under its own spool directory / stream:
 * `eventId` is the request id and `prompt` holds the usage record.
 */
export interface UsageBufferRecord {
  kind: 'content';
  content: {
    eventId: string;
    teamId: string;
    time: string;
    expiresAt: string;
    prompt: unknown;
    response: unknown;
  };
}

/** The usage writer's buffer (entries of any other shape are passed over). */
export type UsageBuffer = DurableBuffer<UsageBufferRecord>;

const USAGE_MARK = 'corral.usage.v1';

export function toBufferRecord(r: UsageRecord): UsageBufferRecord {
  const time = r.ts.toISOString();
  return {
    kind: 'content',
    content: {
      eventId: r.requestId,
      teamId: r.teamId ?? '',
      time,
      expiresAt: time,
      prompt: { ...r, ts: time },
      response: USAGE_MARK,
    },
  };
}

export function fromBufferRecord(b: UsageBufferRecord | null): UsageRecord | null {
  if (b?.kind !== 'content' || b.content.response !== USAGE_MARK) return null;
  const r = b.content.prompt as Omit<UsageRecord, 'ts'> & { ts: string };
  const ts = new Date(r.ts);
  if (Number.isNaN(ts.getTime()) || typeof r.requestId !== 'string') return null;
  return { ...r, ts };
}

export interface DurableUsageWriterOptions {
  /** Most records per transaction. Defaults to 500. */
  batchSize?: number;
  /** Idle poll (a local record wakes the writer sooner). Defaults to 1000 ms. */
  pollMs?: number;
  /** Longest wait between retries while the database is down. Defaults to 5 s. */
  maxBackoffMs?: number;
  /**
   * After a wake-up, wait this long for more records so one transaction carries many (they are already
   * durable in the buffer). On the embedded database a commit runs on the gateway's thread; committing
   * right after every request put it in the next request's way (docs/performance.md). Defaults to 50 ms.
   */
  lingerMs?: number;
  /** Who may write (one writer per installation). Defaults to always (embedded: one process). */
  leader?: LeaderLock;
}

export class DurableUsageWriter implements UsageSink {
  private readonly logger = new Logger('Usage');
  private readonly o: Required<Omit<DurableUsageWriterOptions, 'leader'>>;
  private readonly drain: DrainLoop;
  /** Records waiting for the next append (one fsync for all that arrive in the same tick). */
  private pending: UsageRecord[] = [];
  private appending: Promise<void> = Promise.resolve();
  private appendScheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Records written to the database since start (replays of rows already there not counted). */
  written = 0;

  constructor(
    private readonly buffer: UsageBuffer,
    private readonly db: UsageBatchWriter,
    opts: DurableUsageWriterOptions = {},
  ) {
    this.o = {
      batchSize: opts.batchSize ?? 500,
      pollMs: opts.pollMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 5000,
      lingerMs: opts.lingerMs ?? 50,
    };
    this.drain = new DrainLoop(() => this.step(), {
      ...this.o,
      leader: opts.leader,
      logger: this.logger,
      recovered: (n) => `usage writer recovered after ${n} failed attempt(s)`,
      failing: (e) => `cannot write usage (records stay buffered): ${e}`,
    });
  }

  /** Last error of the writer (cleared on success), for health and tests. */
  get lastError(): string | undefined {
    return this.drain.lastError;
  }

  /** Queues a record for the buffer; never waits and never throws. */
  record(r: UsageRecord): void {
    if (this.closed) {
      this.logger.error(`usage writer is closed: record of ${r.requestId} dropped`);
      return;
    }
    this.pending.push(r);
    if (this.appendScheduled) return;
    this.appendScheduled = true;
    this.appending = this.appending.then(() => this.appendPending());
  }

  private async appendPending(): Promise<void> {
    // Let the records of this tick join the batch.
    await new Promise((r) => setImmediate(r));
    this.appendScheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.buffer.append(batch.map(toBufferRecord));
        this.drain.kick();
        return;
      } catch (e) {
        // The buffer itself (disk, Redis) is failing: keep the records in memory and try again.
        if (attempt === 0 || attempt % 20 === 0)
          this.logger.error(`cannot buffer ${batch.length} usage record(s): ${(e as Error).message}`);
        if (this.closed && attempt >= 3) {
          this.logger.error(`${batch.length} usage record(s) lost at shutdown`);
          return;
        }
        await new Promise((r) =>
          setTimeout(r, Math.min(this.o.maxBackoffMs, 100 * 2 ** Math.min(attempt, 6))),
        );
      }
    }
  }

  /** Resolves once everything recorded so far is in the durable buffer. */
  async buffered(): Promise<void> {
    await this.appending;
  }

  start(): void {
    this.drain.start();
  }

  /** Appends what was recorded and writes everything buffered; rejects while the database refuses. */
  async flush(): Promise<void> {
    await this.appending;
    while ((await this.step()) > 0);
  }

  /** Reads, writes and acknowledges one batch; returns the entries consumed. One at a time. */
  private step(): Promise<number> {
    const next = this.chain.then(async () => {
      const entries = await this.buffer.read(this.o.batchSize);
      await this.writeBatch(entries);
      return entries.length;
    });
    this.chain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /** Stops the writer after its batch; appends what was recorded (written at the next start). */
  async close(): Promise<void> {
    this.closed = true;
    await this.appending;
    await this.drain.stop();
    await this.buffer.close();
  }

  private async writeBatch(entries: BufferedEntry<UsageBufferRecord>[]): Promise<void> {
    const last = entries[entries.length - 1];
    if (!last) return;
    const records = entries.flatMap((e) => {
      const r = fromBufferRecord(e.record);
      return r ? [r] : [];
    });
    const inserted = records.length ? await this.db.insertBatch(records) : 0;
    await this.buffer.ack(last);
    this.written += inserted;
  }
}
