/**
 * Keeps the embedded deployment's worker processes alive: forks them, waits for their hello,
 * restarts one that dies (with backoff), and tells the scheduler so it can fail that worker's jobs.
 */
import { Logger } from '@nestjs/common';
import { withTimeout } from '@corral/common';
import { ChildProcessWorkerLink, type WorkerLink } from './worker-link';

export interface WorkerPoolOptions {
  count: number;
  env?: NodeJS.ProcessEnv;
  entry?: string;
  /** Link factory, so the cluster transport (or a test) can supply its own workers. */
  create?: (id: string) => WorkerLink;
}

/** Where the scheduler's workers come from: forked here (WorkerPool) or found in Redis (cluster). */
export interface WorkerSource {
  /** Live workers that have said hello. */
  workers(): WorkerLink[];
  onWorkerUp(cb: (w: WorkerLink) => void): void;
  onWorkerDown(cb: (w: WorkerLink, reason: string) => void): void;
}

export class WorkerPool implements WorkerSource {
  private readonly logger = new Logger('WorkerPool');
  private readonly links = new Map<string, WorkerLink>();
  private readonly ready = new Set<string>();
  private readonly upCbs: ((w: WorkerLink) => void)[] = [];
  private readonly downCbs: ((w: WorkerLink, reason: string) => void)[] = [];
  private readonly restarts = new Map<string, number>();
  private closing = false;

  constructor(private readonly opts: WorkerPoolOptions) {}

  start(): void {
    for (let i = 0; i < this.opts.count; i++) this.spawn(`w${i}`);
  }

  /** Live workers that have said hello. */
  workers(): WorkerLink[] {
    return [...this.links.values()].filter((l) => this.ready.has(l.id));
  }

  onWorkerUp(cb: (w: WorkerLink) => void): void {
    this.upCbs.push(cb);
  }

  onWorkerDown(cb: (w: WorkerLink, reason: string) => void): void {
    this.downCbs.push(cb);
  }

  /** Resolves when at least one worker is ready, or rejects after the timeout. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    if (this.workers().length > 0) return;
    await withTimeout(
      new Promise<void>((resolve) => this.onWorkerUp(() => resolve())),
      timeoutMs,
      () => new Error('no inference worker became ready'),
    );
  }

  private spawn(id: string): void {
    const link =
      this.opts.create?.(id) ??
      new ChildProcessWorkerLink({
        id,
        env: this.opts.env,
        entry: this.opts.entry,
        log: (line) => process.stderr.write(line + '\n'),
      });
    this.links.set(id, link);
    link.onMessage((m) => {
      if (m.type !== 'hello') return;
      this.ready.add(id);
      this.restarts.set(id, 0);
      this.logger.log(
        `worker ${id} ready: backend ${m.info.backend}, ${m.info.threads} threads, ` +
          `${m.info.gpus.length} GPU(s)${m.info.gpus.map((g) => ` ${g.name}`).join(',')}`,
      );
      for (const cb of this.upCbs) cb(link);
    });
    link.onExit((reason) => {
      this.ready.delete(id);
      this.links.delete(id);
      for (const cb of this.downCbs) cb(link, reason);
      if (this.closing) return;
      const n = (this.restarts.get(id) ?? 0) + 1;
      this.restarts.set(id, n);
      const delay = Math.min(30_000, 250 * 2 ** (n - 1));
      this.logger.warn(`worker ${id} exited (${reason}); restarting in ${delay} ms`);
      setTimeout(() => {
        if (!this.closing) this.spawn(id);
      }, delay).unref();
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.links.values()].map((l) => l.close()));
  }
}

/**
 * libuv's threadpool size for a forked worker. llama.cpp's decode and every sample run as threadpool
 * jobs; with one pool thread the decode loop queues a step's samples right behind its decode, so they
 * run back to back on that thread with no wake-up of the JS thread in between, and parallel samples do
 * not wake four threads on a machine that has two cores (measured on the 2-core box: +11–19% aggregate
 * tokens/s at 1, 4 and 16 streams, docs/performance.md). The price: a model load, also a pool job,
 * pauses generation of the worker's other models while it runs. So one thread on small machines
 * (≤ 4 cores), libuv's default elsewhere; an operator's UV_THREADPOOL_SIZE always wins.
 */
export function workerThreadpoolEnv(
  cpuCores: number,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  if (env.UV_THREADPOOL_SIZE) return {};
  return cpuCores <= 4 ? { UV_THREADPOOL_SIZE: '1' } : {};
}
