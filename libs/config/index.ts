export {
  type CorralConfig,
  ENV_KEYS,
  type ModelPin,
  loadConfig,
  parseSize,
  workerStallTimeoutMs,
} from './schema';
export { parseDuration } from './duration';
export { clientBaseUrl, parseHost } from './host';
export type { OidcConfig, OidcGroupRule } from './oidc';
export { type KnowledgeConfig } from './knowledge';
export { parseRegistrySource, type RegistryConfig, type RegistrySource } from './registry';
export { clusterRedis } from './cluster-redis';
export {
  DEFAULT_JOB_STALL_TIMEOUT_MS,
  WorkerSettingsSchema,
  parseDecodeLoop,
  parseGpuChoice,
  parseThreads,
  workerSettings,
  workerSettingsEnv,
  type DecodeLoopChoice,
  type GpuChoice,
  type WorkerSettings,
} from './worker';
