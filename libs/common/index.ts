export * from './errors';
export * from './http/public.decorator';
export * from './http/dialect';
export * from './http/exception.filter';
export * from './http/origins';
export * from './http/request-guards';
export * from './http/security-headers';
export * from './http/framework-errors';
export { withTimeout } from './timeout';
