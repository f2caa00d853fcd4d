/**
 * The loop that drains a durable buffer into the database, written once for the audit appender
 * and the usage writer: while running, if this process leads, run one pass (read a batch, write it
 * in one transaction, acknowledge it); a full batch goes again at once, a short one waits for the
 * idle poll (a local `kick()` cuts it short) and then lingers so the next transaction carries many
 * entries. A failed pass is retried with exponential backoff, capped, logged at the first failure
 * and every 20th; nothing leaves the buffer until it is written.
 */
import type { Logger } from '@nestjs/common';
import type { LeaderLock } from './leader';
import { LoopTimer } from './loop-timer';

export interface DrainLoopOptions {
  /** A pass that consumed this many entries is followed by another at once. */
  batchSize: number;
  /** Idle poll interval. */
  pollMs: number;
  /** Longest wait between retries while the database is down. */
  maxBackoffMs: number;
  /** After an idle wake-up, wait this long for more entries. */
  lingerMs: number;
  /** Who may drain (one writer per installation). Without one, this process always does. */
  leader?: LeaderLock;
  logger: Logger;
  /** The log lines: after recovering from `failures` failed passes, and while a pass fails. */
  recovered: (failures: number) => string;
  failing: (error: string) => string;
}

export class DrainLoop {
  private readonly timer = new LoopTimer();
  private running = false;
  private loop?: Promise<void>;
  /** Failed passes in a row. */
  failures = 0;
  /** Last error of a pass (cleared on success), for health reporting and tests. */
  lastError?: string;

  /** `pass` drains one batch and returns how many entries it consumed. */
  constructor(
    private readonly pass: () => Promise<number>,
    private readonly o: DrainLoopOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the pass in flight and releases the leader lock. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer.stop();
    await this.loop;
    await this.o.leader?.release();
  }

  /** Wakes the loop now (new entries were appended in this process). */
  kick(): void {
    this.timer.kick();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let idle = true;
      try {
        if (!this.o.leader || (await this.o.leader.acquire())) {
          idle = (await this.pass()) < this.o.batchSize;
        }
        if (this.failures > 0) this.o.logger.log(this.o.recovered(this.failures));
        this.failures = 0;
        this.lastError = undefined;
      } catch (e) {
        this.failures++;
        this.lastError = e instanceof Error ? e.message : String(e);
        if (this.failures === 1 || this.failures % 20 === 0)
          this.o.logger.warn(this.o.failing(this.lastError));
        await this.timer.backoff(Math.min(this.o.maxBackoffMs, 100 * 2 ** Math.min(this.failures, 10)));
        continue;
      }
      if (idle && this.running) {
        await this.timer.sleep(this.o.pollMs);
        if (this.running && this.o.lingerMs > 0) await new Promise((r) => setTimeout(r, this.o.lingerMs));
      }
    }
  }
}
