import { SetMetadata } from '@nestjs/common';

/** Every scope a key can carry. Sessions (the console) act with all of them, bounded by roles. */
export const SCOPES = [
  'inference',
  'embeddings',
  'models:read',
  'models:write',
  'kb:read',
  'kb:write',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export const SCOPES_METADATA = 'corral:scopes';

/**
 * Scopes a route needs (all of them). A route with neither `@Scopes` nor `@Public()` needs only an
 * authenticated caller.
 */
export const Scopes = (...scopes: Scope[]) => SetMetadata(SCOPES_METADATA, scopes);

export const TEAM_ROLES = ['owner', 'member', 'viewer'] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];

export const GLOBAL_ROLES = ['admin', 'auditor'] as const;
export type GlobalRole = (typeof GLOBAL_ROLES)[number];
