/**
 * A cluster worker (`corral worker --redis URL`): the same inference host the embedded worker process
 * runs, driven by the cluster transport instead of the IPC channel. It runs in the CLI's process.
 */
import { workerSettings } from '@corral/config';
import { WorkerHost } from '@corral/inference';
import { GatewayBlobSource, SharedDirectoryBlobSource, WorkerAgent } from '@corral/cluster-worker';

export interface RemoteWorkerOptions {
  redisUrl: string;
  prefix: string;
  modelsDir: string;
  memoryBytes?: number;
  id?: string;
  /** A gateway to fetch blobs the models directory lacks from, over HTTP; unset: the directory is shared. */
  gateway?: string;
  gatewayKey?: string;
  log: (line: string) => void;
}

export interface RunningWorker {
  id: string;
  stop(): Promise<void>;
}

export async function startRemoteWorker(opts: RemoteWorkerOptions): Promise<RunningWorker> {
  const host = new WorkerHost({ ...workerSettings(process.env), log: opts.log });
  const agent = new WorkerAgent({
    redisUrl: opts.redisUrl,
    prefix: opts.prefix,
    id: opts.id,
    host,
    blobs: opts.gateway
      ? new GatewayBlobSource({
          modelsDir: opts.modelsDir,
          gateway: opts.gateway,
          key: opts.gatewayKey,
          log: opts.log,
        })
      : new SharedDirectoryBlobSource(opts.modelsDir),
    memoryBytes: opts.memoryBytes,
    log: opts.log,
  });
  // A job wedged in native code (progress-watch.ts): its error is on its way to Redis; the context
  // cannot be trusted, so the process ends and its service manager restarts it. SIGKILL, as in main.ts:
  // an exit would wait forever for the wedged native thread.
  host.onWedged(() => {
    opts.log('a job made no progress (CORRAL_JOB_STALL_TIMEOUT); the worker is killed to be restarted');
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000);
  });
  await agent.start();
  return { id: agent.id, stop: () => agent.stop() };
}
