export * from './schema';
export * from './duration';
export * from './host';
export type { OidcConfig, OidcGroupRule } from './oidc';
