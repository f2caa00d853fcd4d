export { type Scope, Scopes } from './scopes';
export { formatApiKey, newId, newKeyId, newKeySecret, parseApiKey, safeEqual } from './credentials';
export { hashPassword, passwordProblem } from './password';
export {
  ALL_SCOPES,
  CurrentPrincipal,
  type Principal,
  isGlobalAdmin,
  principalOf,
  requireScope,
  setPrincipal,
} from './principal';
export { AuthRepositories } from './repositories';
export { LocalInvalidationBus, RedisInvalidationBus } from './invalidation';
export { KeyCache } from './key-cache';
export { KeyService } from './key.service';
export { SessionService } from './session.service';
export { FailureLimiter } from './rate-limit';
export { LastUsedWriter } from './last-used';
export { isModelAllowed, normalizeModel } from './model-access';
export { hiddenModelsOf } from './model-ownership';
export { AuthGuard, UNAUTHORIZED_MESSAGE } from './auth.guard';
export {
  AdminDoc,
  AdminApiDocument,
  buildOpenApi,
  collectRoutes,
  openApiPath,
  type AdminDocOptions,
  type RouteInfo,
} from './admin/openapi';
export { AuthModule } from './auth.module';
export { bootstrapAuth, type BootstrapResult } from './bootstrap';
