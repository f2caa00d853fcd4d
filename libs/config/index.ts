export * from './schema';
export * from './duration';
export * from './host';
export type { OidcConfig, OidcGroupRule } from './oidc';
export { parseRegistrySource, type RegistryConfig, type RegistrySource } from './registry';
export { clusterRedis } from './cluster-redis';
