/**
 * The per-job progress watchdog of a worker. The gateway's heartbeat watch (libs/dispatch/stall-watch.ts)
 * catches a worker whose JavaScript stopped; it cannot see a job wedged inside llama.cpp while the
 * worker's event loop (and so its heartbeat) goes on. Each job that is computing holds a `JobProgress`
 * and ticks it on every unit of progress (a prompt batch evaluated, a token decoded, an input embedded);
 * a job armed and not ticked for `timeoutMs` is reported once through `onStall`.
 *
 * A tick is a counter bump, not a clock read: it runs once per token, and the check (a quarter of the
 * timeout, at most 1 s) notices the change. As in StallWatch, a check that comes late by more than half
 * the timeout means this thread was not running (a long GC, a suspended host): ticks could not have
 * been counted either, so the count starts over instead of judging.
 */
export interface ProgressWatchOptions {
  timeoutMs: number;
  onStall: (jobId: string, silentMs: number) => void;
  /** Clock, for tests. Defaults to Date.now. */
  now?: () => number;
  /** Starts the periodic check, for tests; returns a stop function. Defaults to an unref'd setInterval. */
  every?: (ms: number, fn: () => void) => () => void;
}

/** One job's progress. Unarmed (waiting for a sequence, a model load) it is never judged. */
export interface JobProgress {
  /** Starts (or restarts) watching: from now the job must tick within the timeout. */
  arm(): void;
  /** One unit of progress. */
  tick(): void;
  /** Stops watching until the next `arm()` (the job waits on something that is not native compute). */
  disarm(): void;
}

interface Entry extends JobProgress {
  ticks: number;
  seen: number;
  since: number;
  armed: boolean;
}

export class ProgressWatch {
  private readonly jobs = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly periodMs: number;
  private lastCheck: number;
  private stopTimer?: () => void;

  constructor(private readonly opts: ProgressWatchOptions) {
    this.now = opts.now ?? Date.now;
    this.lastCheck = this.now();
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

  get timeoutMs(): number {
    return this.opts.timeoutMs;
  }

  /** The job's handle (unarmed); `end` forgets it. */
  begin(jobId: string): JobProgress {
    const entry: Entry = {
      ticks: 0,
      seen: 0,
      since: 0,
      armed: false,
      arm: () => {
        entry.armed = true;
        entry.seen = entry.ticks;
        entry.since = this.now();
      },
      tick: () => {
        entry.ticks++;
      },
      disarm: () => {
        entry.armed = false;
      },
    };
    this.jobs.set(jobId, entry);
    return entry;
  }

  end(jobId: string): void {
    this.jobs.delete(jobId);
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
    for (const [id, job] of this.jobs) {
      if (!job.armed) continue;
      if (job.ticks !== job.seen || late > this.opts.timeoutMs / 2) {
        job.seen = job.ticks;
        job.since = now;
        continue;
      }
      const silent = now - job.since;
      if (silent <= this.opts.timeoutMs) continue;
      // Reported once; the worker is restarted after it (a wedged native context cannot be trusted).
      this.jobs.delete(id);
      this.opts.onStall(id, silent);
    }
  }
}

/** A handle that watches nothing (a host without a watchdog, tests). */
export const UNWATCHED: JobProgress = {
  arm: () => undefined,
  tick: () => undefined,
  disarm: () => undefined,
};
