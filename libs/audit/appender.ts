/**
 * The one writer of the chain. It reads batches from the buffer in order, skips events already
 * written (a replay after a crash), extends the hash chain, writes events, content and (every
 * `checkpointEvery` events or `checkpointIntervalMs`) a signed checkpoint in one transaction, and
 * only then acknowledges the buffer. When the database is unreachable it keeps retrying with
 * backoff; nothing leaves the buffer until it is committed.
 */
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DrainLoop, type BufferedEntry, type LeaderLock } from '@corral/durable';
import type { AuditBuffer, BufferRecord, PendingContent } from './audit-buffer';
import { GENESIS_HASH, chainHash } from './chain';
import type { AuditSigner } from './signing';
import { auditSql, type EventRow, type Sql } from './audit.repository';

export interface AppenderOptions {
  /** Most buffer entries per transaction. Defaults to 500. */
  batchSize?: number;
  /** Sign a checkpoint after this many events. Defaults to 1000. */
  checkpointEvery?: number;
  /** ...or when the oldest unsigned event is this old. Defaults to 60 s. */
  checkpointIntervalMs?: number;
  /** Idle poll interval (a local `kick()` wakes it sooner). Defaults to 250 ms. */
  pollMs?: number;
  /** Longest wait between retries while the database is down. Defaults to 5 s. */
  maxBackoffMs?: number;
  /**
   * After a wake-up, wait this long for more events so one transaction carries many (events are
   * already durable in the buffer; only the chain's latency grows). On the embedded database a commit
   * runs on the gateway's thread: at 5 ms it landed in the next request's way and added ~3 ms to its
   * time to first token (docs/performance.md). Defaults to 50 ms.
   */
  lingerMs?: number;
  /**
   * Periodic work only the leader does (retention): run after the first batch and then every
   * `maintenanceIntervalMs`. A failure is logged and retried at the next interval.
   */
  maintenance?: () => Promise<void>;
  /** Defaults to one hour. */
  maintenanceIntervalMs?: number;
}

export class AuditAppender {
  private readonly log = new Logger('Audit');
  private readonly o: Required<Omit<AppenderOptions, 'maintenance'>> & Pick<AppenderOptions, 'maintenance'>;
  private nextMaintenanceAt = 0;
  private readonly drain: DrainLoop;
  private idleCheckAt = 0;
  /** Events written since start. */
  written = 0;

  constructor(
    private readonly ds: DataSource,
    private readonly buffer: AuditBuffer,
    private signer: AuditSigner,
    leader: LeaderLock,
    opts: AppenderOptions = {},
  ) {
    this.o = {
      batchSize: opts.batchSize ?? 500,
      checkpointEvery: opts.checkpointEvery ?? 1000,
      checkpointIntervalMs: opts.checkpointIntervalMs ?? 60_000,
      pollMs: opts.pollMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 5_000,
      lingerMs: opts.lingerMs ?? 50,
      maintenance: opts.maintenance,
      maintenanceIntervalMs: opts.maintenanceIntervalMs ?? 3_600_000,
    };
    this.drain = new DrainLoop(() => this.pass(), {
      ...this.o,
      leader,
      logger: this.log,
      recovered: (n) => `audit appender recovered after ${n} failed attempts`,
      failing: (e) => `audit appender cannot write (events stay buffered): ${e}`,
    });
  }

  /** Last error while writing (cleared on success), for health reporting. */
  get lastError(): string | undefined {
    return this.drain.lastError;
  }

  /** Signs later checkpoints with `signer` (after a key rotation). */
  useSigner(signer: AuditSigner): void {
    this.signer = signer;
  }

  /** The leader's periodic work, when it is due. Never throws. */
  private async maintain(): Promise<void> {
    if (!this.o.maintenance || Date.now() < this.nextMaintenanceAt) return;
    this.nextMaintenanceAt = Date.now() + this.o.maintenanceIntervalMs;
    try {
      await this.o.maintenance();
    } catch (e) {
      this.log.error(`audit retention failed (retried in ${this.o.maintenanceIntervalMs} ms): ${String(e)}`);
    }
  }

  start(): void {
    this.drain.start();
  }

  /** Stops after the batch in flight; what is still buffered is written by the next start. */
  stop(): Promise<void> {
    return this.drain.stop();
  }

  /** Wakes the loop now (new entries were appended in this process). */
  kick(): void {
    this.drain.kick();
  }

  /** One pass of the drain loop: a batch, or when there is none the idle checkpoint and maintenance. */
  private async pass(): Promise<number> {
    const entries = await this.buffer.read(this.o.batchSize);
    if (entries.length > 0) {
      await this.writeBatch(entries);
      return entries.length;
    }
    if (Date.now() - this.idleCheckAt >= 1000) {
      this.idleCheckAt = Date.now();
      await this.ds.transaction((m) => this.maybeCheckpoint(m, Date.now()));
      await this.maintain();
    }
    return 0;
  }

  /** Writes one batch and acknowledges it. Exposed for tests that drive the appender step by step. */
  async writeBatch(entries: BufferedEntry<BufferRecord>[]): Promise<number> {
    const last = entries[entries.length - 1];
    if (!last) return 0;
    const n = await this.ds.transaction(async (m) => {
      await auditSql.lockAppend(m);
      const events = entries.flatMap((e) => (e.record?.kind === 'event' ? [e.record.event] : []));
      const content: PendingContent[] = entries.flatMap((e) =>
        e.record?.kind === 'content' ? [e.record.content] : [],
      );
      const seen = await auditSql.existingIds(
        m,
        events.map((e) => e.id),
      );
      const head = (await auditSql.head(m)) ?? { seq: 0, hash: GENESIS_HASH };
      let { seq, hash } = head;
      const rows: EventRow[] = [];
      const batchIds = new Set<string>();
      for (const p of events) {
        if (seen.has(p.id) || batchIds.has(p.id)) continue;
        batchIds.add(p.id);
        seq += 1;
        const event = { ...p, seq };
        const h = chainHash(hash, event);
        rows.push({ ...event, prevHash: hash, hash: h });
        hash = h;
      }
      await auditSql.insertEvents(m, rows);
      await auditSql.insertContent(m, content);
      // Checkpoints fall on exact multiples of checkpointEvery, so retention segments are even.
      let signed = (await auditSql.lastCheckpoint(m))?.seq ?? 0;
      for (const r of rows) {
        if (r.seq - signed < this.o.checkpointEvery) continue;
        await this.checkpoint(m, r, Date.now());
        signed = r.seq;
      }
      await this.maybeCheckpoint(m, Date.now());
      return rows.length;
    });
    await this.buffer.ack(last);
    this.written += n;
    return n;
  }

  private async maybeCheckpoint(m: Sql, now: number): Promise<void> {
    const head = await auditSql.head(m);
    if (!head || head.seq === 0) return;
    const cp = await auditSql.lastCheckpoint(m);
    const since = cp?.seq ?? 0;
    if (head.seq <= since) return;
    if (head.seq - since < this.o.checkpointEvery) {
      const oldest = await auditSql.firstEventTime(m, since);
      if (!oldest || now - Date.parse(oldest) < this.o.checkpointIntervalMs) return;
    }
    await this.checkpoint(m, head, now);
  }

  private async checkpoint(m: Sql, head: { seq: number; hash: string }, now: number): Promise<void> {
    const payload = {
      seq: head.seq,
      hash: head.hash,
      time: new Date(now).toISOString(),
      keyId: this.signer.keyId,
    };
    await auditSql.insertCheckpoint(m, { ...payload, signature: this.signer.sign(payload) });
  }

  /** Signs a checkpoint at the current head now (retention and shutdown use it). */
  async checkpointNow(): Promise<void> {
    await this.ds.transaction(async (m) => {
      await auditSql.lockAppend(m);
      const head = await auditSql.head(m);
      const cp = await auditSql.lastCheckpoint(m);
      if (head && head.seq > (cp?.seq ?? 0)) await this.checkpoint(m, head, Date.now());
    });
  }
}
