/**
 * Identity rows as stored (auth_* tables) and their domain shapes. Entities are never API types:
 * the admin controllers map them to response DTOs (admin/dto.ts).
 */
import type { GlobalRole, Scope, TeamRole } from './scopes';

export interface User {
  id: string;
  email: string;
  name: string;
  passwordHash: string | null;
  globalRole: GlobalRole | null;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A login at an external identity provider (OIDC issuer + subject) linked to a local user. */
export interface ExternalIdentity {
  issuer: string;
  subject: string;
  userId: string;
}

export interface Team {
  id: string;
  name: string;
  createdAt: Date;
}

export interface Membership {
  teamId: string;
  userId: string;
  role: TeamRole;
  createdAt: Date;
}

export interface ApiKey {
  id: string;
  teamId: string;
  userId: string | null;
  name: string;
  secretHash: string;
  /** The secret replaced by the last rotation, valid until `previousValidUntil`. */
  previousSecretHash: string | null;
  previousValidUntil: Date | null;
  scopes: Scope[];
  /** Allowed models (full names, lower-case); null = every model. */
  models: string[] | null;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  createdBy: string | null;
  createdAt: Date;
}

export interface Session {
  tokenHash: string;
  userId: string;
  csrfToken: string;
  createdAt: Date;
  expiresAt: Date;
}

type Row = Record<string, unknown>;

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** text[] arrives as an array from pg and PGlite; tolerate the literal form `{a,b}` too. */
function textArray(v: unknown): string[] | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(String);
  const s = String(v);
  if (s === '{}') return [];
  return s
    .replace(/^\{|\}$/g, '')
    .split(',')
    .map((x) => x.replace(/^"|"$/g, ''));
}

export function userFromRow(r: Row): User {
  return {
    id: str(r.id),
    email: str(r.email),
    name: str(r.name ?? ''),
    passwordHash: strOrNull(r.password_hash),
    globalRole: strOrNull(r.global_role) as GlobalRole | null,
    disabledAt: dateOrNull(r.disabled_at),
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}

export function teamFromRow(r: Row): Team {
  return { id: str(r.id), name: str(r.name), createdAt: date(r.created_at) };
}

export function membershipFromRow(r: Row): Membership {
  return {
    teamId: str(r.team_id),
    userId: str(r.user_id),
    role: str(r.role) as TeamRole,
    createdAt: date(r.created_at),
  };
}

export function apiKeyFromRow(r: Row): ApiKey {
  return {
    id: str(r.id),
    teamId: str(r.team_id),
    userId: strOrNull(r.user_id),
    name: str(r.name),
    secretHash: str(r.secret_hash),
    previousSecretHash: strOrNull(r.previous_secret_hash),
    previousValidUntil: dateOrNull(r.previous_valid_until),
    scopes: (textArray(r.scopes) ?? []) as Scope[],
    models: textArray(r.models),
    expiresAt: dateOrNull(r.expires_at),
    lastUsedAt: dateOrNull(r.last_used_at),
    revokedAt: dateOrNull(r.revoked_at),
    createdBy: strOrNull(r.created_by),
    createdAt: date(r.created_at),
  };
}

export function sessionFromRow(r: Row): Session {
  return {
    tokenHash: str(r.token_hash),
    userId: str(r.user_id),
    csrfToken: str(r.csrf_token),
    createdAt: date(r.created_at),
    expiresAt: date(r.expires_at),
  };
}
