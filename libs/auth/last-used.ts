/**
 * Records when keys were last used without touching the request path: uses are kept in memory and
 * written in one batched statement every few seconds (and on shutdown). A failed write is retried
 * with the next batch.
 */
import { Logger } from '@nestjs/common';
import type { ApiKeysRepository } from './repositories';

export class LastUsedWriter {
  private readonly logger = new Logger('Auth');
  private pending = new Map<string, Date>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;

  /** @param intervalMs Flush period. Defaults to 5000. */
  constructor(
    private readonly keys: ApiKeysRepository,
    intervalMs = 5000,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  record(keyId: string, at = new Date()): void {
    this.pending.set(keyId, at);
  }

  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.keys
      .touchLastUsed([...batch])
      .catch((e: Error) => {
        for (const [k, t] of batch) if (!this.pending.has(k)) this.pending.set(k, t);
        this.logger.warn(`could not record key use: ${e.message}`);
      })
      .finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
