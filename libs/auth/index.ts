export * from './scopes';
export * from './credentials';
export * from './password';
export * from './auth.types';
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
export { AuthModule } from './auth.module';
export { bootstrapAuth, type BootstrapResult } from './bootstrap';
