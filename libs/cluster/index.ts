// The gateway side of cluster mode; the worker side has its own entry, @corral/cluster-worker.
export { ClusterKeys, HEARTBEAT_MS, HEARTBEAT_TTL_MS, type QueuedJob } from './keys';
export {
  WorkerModelSchema,
  WorkerStatusSchema,
  freeBytes,
  type WorkerModel,
  type WorkerStatus,
} from './status';
export { connectRedis, withDeadline } from './redis';
export { estimateFootprint, type ModelFootprint } from './estimate';
export { RedisWorkerLink } from './redis-worker-link';
export { ClusterPool, type ClusterPoolOptions } from './cluster-pool';
export { ClusterPlacement, type PlacementPolicy } from './placement';
export { Pins, PinKeeper, PIN_CHECK_MS, type PinKeeperDeps } from './pins';
export {
  ClusterPsView,
  ClusterWorkersSnapshot,
  EmbeddedWorkersSnapshot,
  type DetailsLookup,
  type WorkerModelView,
  type WorkerView,
  type WorkersSnapshot,
} from './cluster-view';
export { ClusterAdminModule, WorkersController, WORKERS_SNAPSHOT } from './workers.controller';
