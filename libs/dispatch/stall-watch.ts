/**
 * The stall watchdog of one worker: the link calls `heard()` on everything the worker sends (its
 * heartbeat included); when nothing has come for `timeoutMs`, `onStall` runs once. Checked on a
 * timer of a quarter of the timeout (at most 1 s), so a stall is caught within the timeout plus that.
 *
 * The gateway's own event loop can stall too (a long GC, a debugger, the host suspended): then the
 * worker's messages sit unread in the pipe and silence proves nothing. A check that comes late by more
 * than half the timeout therefore starts the count over instead of judging.
 */
export interface StallWatchOptions {
  timeoutMs: number;
  onStall: (silentMs: number) => void;
  /** Clock, for tests. Defaults to Date.now. */
  now?: () => number;
  /** Starts the periodic check, for tests; returns a stop function. Defaults to an unref'd setInterval. */
  every?: (ms: number, fn: () => void) => () => void;
}

export class StallWatch {
  private last: number;
  private lastCheck: number;
  private readonly now: () => number;
  private readonly periodMs: number;
  private stopTimer?: () => void;

  constructor(private readonly opts: StallWatchOptions) {
    this.now = opts.now ?? Date.now;
    this.last = this.lastCheck = this.now();
    this.periodMs = Math.max(50, Math.min(1000, Math.floor(opts.timeoutMs / 4)));
    const every =
      opts.every ??
      ((ms: number, fn: () => void) => {
        const t = setInterval(fn, ms);
        t.unref();
        return () => clearInterval(t);
      });
    this.stopTimer = every(this.periodMs, () => this.check());
  }

  get lastHeardAt(): number {
    return this.last;
  }

  heard(): void {
    this.last = this.now();
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
  }

  /** One check (the timer calls it). */
  check(): void {
    if (!this.stopTimer) return;
    const now = this.now();
    const late = now - this.lastCheck - this.periodMs;
    this.lastCheck = now;
    if (late > this.opts.timeoutMs / 2) {
      this.last = now;
      return;
    }
    const silent = now - this.last;
    if (silent <= this.opts.timeoutMs) return;
    this.stop();
    this.opts.onStall(silent);
  }
}
