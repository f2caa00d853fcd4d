/**
 * `AuditService.record()` is what the request path calls: it validates, stamps an id and time and
 * queues the event in memory, returning at once. A group-commit flusher moves queued records to
 * the durable buffer (one fsync or one Redis round trip per batch) and wakes the appender. If the
 * buffer itself refuses (disk full, Redis down) the records stay queued and are retried in order.
 */
import { Logger } from '@nestjs/common';
import type { AuditBuffer, BufferRecord } from './audit-buffer';
import type { ContentPolicySource } from './content';
import { toPendingEvent, type AuditEventInput } from './event';

export interface AuditServiceOptions {
  /** Most records per buffer write. Defaults to 1000. */
  maxBatch?: number;
  /** Called after each flush (the local appender's `kick`). */
  onFlushed?: () => void;
  policies?: ContentPolicySource;
}

export class AuditService {
  private readonly log = new Logger('Audit');
  private queue: BufferRecord[] = [];
  private flushing?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly capturing = new Set<Promise<boolean>>();

  constructor(
    private readonly buffer: AuditBuffer,
    private readonly opts: AuditServiceOptions = {},
  ) {}

  /** Queues an event; returns its id. Never waits on I/O. Throws only on an invalid event. */
  record(input: AuditEventInput): string {
    const event = toPendingEvent(input);
    this.push({ kind: 'event', event });
    return event.id;
  }

  /**
   * Captures prompt/response content for an event when the team's policy says so. Resolves to
   * whether it was captured; the policy read is cached, the write is queued like an event.
   */
  recordContent(
    eventId: string,
    teamId: string,
    prompt: unknown,
    response: unknown,
    requestId?: string,
  ): Promise<boolean> {
    // flush() waits for policy reads in flight, so nothing recorded before it is left behind.
    const p = this.captureContent(eventId, teamId, prompt, response, requestId);
    this.capturing.add(p);
    void p.finally(() => this.capturing.delete(p)).catch(() => undefined);
    return p;
  }

  private async captureContent(
    eventId: string,
    teamId: string,
    prompt: unknown,
    response: unknown,
    requestId?: string,
  ): Promise<boolean> {
    const policy = await this.opts.policies?.policyFor(teamId);
    if (!policy?.capture) return false;
    const now = Date.now();
    this.push({
      kind: 'content',
      content: {
        eventId,
        requestId: requestId ?? null,
        teamId,
        time: new Date(now).toISOString(),
        expiresAt: new Date(now + policy.retentionDays * 86_400_000).toISOString(),
        prompt,
        response,
      },
    });
    return true;
  }

  private push(r: BufferRecord): void {
    if (this.closed) throw new Error('audit service is closed');
    this.queue.push(r);
    if (!this.flushing && !this.retryTimer) this.flushing = this.drainQueue();
  }

  private async drainQueue(): Promise<void> {
    // Yield once so records queued in the same tick share one durable write.
    await new Promise<void>((r) => setImmediate(r));
    const max = this.opts.maxBatch ?? 1000;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.slice(0, max);
        await this.buffer.append(batch);
        this.queue.splice(0, batch.length);
        this.opts.onFlushed?.();
      }
    } catch (e) {
      this.log.error(`audit buffer write failed, ${this.queue.length} records held in memory: ${String(e)}`);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.flushing) this.flushing = this.drainQueue();
      }, 1000);
      this.retryTimer.unref();
    } finally {
      this.flushing = undefined;
    }
  }

  /** Resolves when everything recorded so far is in the durable buffer. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.capturing]);
    while (this.queue.length > 0 || this.flushing) {
      if (this.flushing) await this.flushing;
      else if (this.queue.length > 0 && !this.retryTimer) this.flushing = this.drainQueue();
      else await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Flushes and refuses further records. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}
