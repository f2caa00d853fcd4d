/**
 * The kernel: what every feature needs and none owns. DI tokens of the gateway's singletons, the
 * run-ended seam, and the per-request context. Imports nothing of @corral/*.
 */
export { CONFIG, DATABASE, REGISTRY, SCHEDULER } from './di-tokens';
export { RunObservers, type EndedRun, type RunObserver } from './run-observers';
export {
  ADMIN_ACTION,
  AdminAction,
  auditFacts,
  changeOf,
  recordChange,
  requestContext,
  type AuditFacts,
  type AuditNote,
  type ContextPrincipal,
  type RequestContext,
} from './request-context';
