/**
 * The jobs this gateway has in flight on its workers, by id: each worker reply goes to its job, and a
 * worker's death (or stall) ends exactly the jobs it was running.
 */
import { randomUUID } from 'node:crypto';
import { CorralError } from '@corral/common';
import type { WorkerLink } from './worker-link';
import type { FromWorker } from '@corral/worker-protocol';

export interface PendingJob {
  worker: WorkerLink;
  onMessage: (m: FromWorker) => void;
  onWorkerGone: (reason: string) => void;
}

/**
 * The worker died under a request/response job (as opposed to answering with an error). One that
 * stopped answering (stall watchdog) is a 503: nothing ran, and a retry may find a restarted worker.
 */
export class WorkerGone extends CorralError {
  constructor(reason: string, stalled = false) {
    super(
      stalled ? 'unavailable' : 'worker_failed',
      stalled ? `inference worker stopped responding (${reason})` : `inference worker stopped (${reason})`,
    );
  }
}

export class JobRouter {
  private readonly jobs = new Map<string, PendingJob>();

  route(m: FromWorker): void {
    if (m.type === 'hello') return;
    this.jobs.get(m.id)?.onMessage(m);
  }

  /** A worker went away (died, or stalled): every job it had ends through its onWorkerGone. */
  workerGone(w: WorkerLink, reason: string): void {
    for (const [, job] of this.jobs) if (job.worker === w) job.onWorkerGone(reason);
  }

  /** Sends one request/response job to a worker; resolves with the first terminal message. */
  call(worker: WorkerLink, build: (id: string) => Parameters<WorkerLink['send']>[0]): Promise<FromWorker> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      this.jobs.set(id, {
        worker,
        onMessage: (m) => {
          this.jobs.delete(id);
          resolve(m);
        },
        onWorkerGone: (reason) => {
          this.jobs.delete(id);
          reject(new WorkerGone(reason, worker.stalled === true));
        },
      });
      worker.send(build(id));
    });
  }

  /** A streaming job (a generation), whose owner routes its messages and removes it when it ends. */
  open(id: string, job: PendingJob): void {
    this.jobs.set(id, job);
  }

  get(id: string): PendingJob | undefined {
    return this.jobs.get(id);
  }

  close(id: string): void {
    this.jobs.delete(id);
  }
}
