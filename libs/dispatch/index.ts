// The gateway's dispatch: the scheduler, the worker links and pools. The job protocol they speak is
// @corral/worker-protocol.
export { validateOptions, clampToContext, toSampling, type OllamaOptions } from './options';
export { AsyncQueue } from './async-queue';
export {
  ChildProcessWorkerLink,
  isWellFormedChunk,
  workerEntry,
  type ChildWorkerOptions,
  type WorkerLink,
} from './worker-link';
export { StallWatch, type StallWatchOptions } from './stall-watch';
export { WorkerPool, workerThreadpoolEnv, type WorkerPoolOptions, type WorkerSource } from './worker-pool';
export {
  Scheduler,
  type ClusterView,
  type EmbedRequest,
  type EmbedResult,
  type GenerateRequest,
  type Placement,
  type RunTarget,
  type RunningModel,
  type SchedulerOptions,
} from './scheduler';
export { FairQueue, type FairShare, type Priority } from './fair-queue';
