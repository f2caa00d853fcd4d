// The gateway's dispatch: the scheduler, the worker links and pools, and (until it has a lib of its
// own) the job protocol both processes validate.
export * from './protocol';
export * from './chunk-batch';
export { validateOptions, clampToContext, toSampling, type OllamaOptions } from './options';
export {
  MAX_NUM_CTX,
  MAX_NUM_BATCH,
  MAX_NUM_THREAD,
  MAX_NUM_GPU,
  MAX_NUM_PREDICT,
  MAX_STOP_STRINGS,
  MAX_STOP_LENGTH,
  MAX_LOGIT_BIAS,
  MAX_EMBED_INPUTS,
  MAX_EMBED_CHARS,
  MAX_IMAGES,
  MAX_MESSAGES,
  MAX_TOOLS,
  MAX_PROMPT_CHARS_PER_CTX_TOKEN,
  MAX_SCHEMA_DEPTH,
  MAX_SCHEMA_NODES,
  jsonShapeProblem,
  promptSizeProblem,
} from './limits';
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
  type GenerationEvent,
  type Placement,
  type RunTarget,
  type RunningModel,
  type SchedulerOptions,
} from './scheduler';
export { FairQueue, type FairShare, type Priority } from './fair-queue';
