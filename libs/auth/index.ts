export * from './scopes';
export * from './credentials';
export * from './password';
export * from './entities';
export * from './principal';
export * from './repositories';
export * from './invalidation';
export * from './key-cache';
export * from './key.service';
export * from './session.service';
export * from './rate-limit';
export * from './last-used';
export * from './model-access';
export * from './model-ownership';
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
// The admin-change seam moved to the kernel's request context; kept here for the controllers of
// other features that name it through @corral/auth.
export { ADMIN_ACTION, AdminAction, changeOf, recordChange, type AuditNote } from '@corral/core';
export { AuthModule } from './auth.module';
export { bootstrapAuth, type BootstrapResult } from './bootstrap';
