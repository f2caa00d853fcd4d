export * from './run.service';
export * from './ndjson';
export * from './pipeline';
export * from './metering';
export * from './quota-gate';
export { ServingModule } from './serving.module';
// Moved to the kernel (@corral/core); re-exported while the dialects and distribution still name
// them through @corral/serving.
export {
  CONFIG,
  DATABASE,
  REGISTRY,
  SCHEDULER,
  RunObservers,
  type EndedRun,
  type RunObserver,
} from '@corral/core';
