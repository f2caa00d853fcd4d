/**
 * Admin API wire shapes (zod): request bodies and queries reject unknown fields; responses are
 * mapped from entities here and never expose hashes. The OpenAPI document is generated from these.
 */
import { z } from 'zod';
import type { ApiKey, Team, User } from '../auth.types';
import { displayModel } from '../model-access';
import type { MemberView } from '../repositories';
import { GLOBAL_ROLES, SCOPES, TEAM_ROLES } from '../scopes';

const limit = z.coerce
  .number()
  .int()
  .min(1)
  .max(200)
  .optional()
  .describe('Page size (1-200). Defaults to 50.');
const cursor = z.string().max(500).optional().describe('`next_cursor` of the previous page.');
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const id = z.string().min(1).max(100);

export const CreateUserBody = z.strictObject({
  email: z.email().max(320),
  name: z.string().max(200).optional(),
  password: z
    .string()
    .max(1024)
    .optional()
    .describe('Console password (argon2id); omit for key-only or SSO users.'),
  global_role: z.enum(GLOBAL_ROLES).nullable().optional(),
});
export const UpdateUserBody = z.strictObject({
  name: z.string().max(200).optional(),
  password: z.string().max(1024).optional(),
  global_role: z.enum(GLOBAL_ROLES).nullable().optional(),
  disabled: z.boolean().optional(),
});
export const ListUsersQuery = z.strictObject({
  cursor,
  limit,
  email: z.string().max(320).optional().describe('Substring of the email.'),
  global_role: z.enum(GLOBAL_ROLES).optional(),
});
export const UserOut = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  global_role: z.enum(GLOBAL_ROLES).nullable(),
  disabled: z.boolean(),
  has_password: z.boolean(),
  created_at: z.string(),
});

export const CreateTeamBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  owner_id: id.optional().describe('User to add as the first owner.'),
});
export const UpdateTeamBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
export const ListTeamsQuery = z.strictObject({
  cursor,
  limit,
  name: z.string().max(100).optional().describe('Substring of the name.'),
});
export const TeamOut = z.object({ id: z.string(), name: z.string(), created_at: z.string() });

export const AddMemberBody = z
  .strictObject({
    user_id: id.optional(),
    email: z.email().optional(),
    role: z.enum(TEAM_ROLES),
  })
  .refine((b) => (b.user_id === undefined) !== (b.email === undefined), {
    message: 'give exactly one of user_id or email',
    path: ['user_id'],
  });
export const UpdateMemberBody = z.strictObject({ role: z.enum(TEAM_ROLES) });
export const ListMembersQuery = z.strictObject({ cursor, limit, role: z.enum(TEAM_ROLES).optional() });
export const MemberOut = z.object({
  user_id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(TEAM_ROLES),
  created_at: z.string(),
});

export const CreateKeyBody = z.strictObject({
  team_id: id,
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.enum(SCOPES)).min(1),
  models: z
    .array(z.string().min(1).max(500))
    .max(1000)
    .nullable()
    .optional()
    .describe('Model allow-list; omit or null for every model.'),
  expires_at: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('RFC 3339 time after which the key is refused.'),
  user_id: id.optional().describe('User the key acts for. Defaults to the caller.'),
});
export const RotateKeyBody = z.strictObject({
  grace_seconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86400)
    .default(0)
    .describe('How long the old secret keeps working. Defaults to 0.'),
});
export const ListKeysQuery = z.strictObject({
  cursor,
  limit,
  team_id: id.optional(),
  user_id: id.optional(),
  name: z.string().max(100).optional(),
  include_revoked: bool.optional(),
});
export const KeyOut = z.object({
  id: z.string(),
  prefix: z.string().describe('`crl_<id>`: identifies the key in logs without its secret.'),
  team_id: z.string(),
  user_id: z.string().nullable(),
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  models: z.array(z.string()).nullable(),
  expires_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  previous_secret_valid_until: z.string().nullable(),
  created_at: z.string(),
});
export const IssuedKeyOut = KeyOut.extend({
  key: z.string().describe('The full key. Shown only in this response.'),
});

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() });

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function userOut(u: User): z.infer<typeof UserOut> {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    global_role: u.globalRole,
    disabled: u.disabledAt !== null,
    has_password: u.passwordHash !== null,
    created_at: u.createdAt.toISOString(),
  };
}

export function teamOut(t: Team): z.infer<typeof TeamOut> {
  return { id: t.id, name: t.name, created_at: t.createdAt.toISOString() };
}

export function memberOut(m: MemberView): z.infer<typeof MemberOut> {
  return {
    user_id: m.userId,
    email: m.email,
    name: m.name,
    role: m.role,
    created_at: m.createdAt.toISOString(),
  };
}

export function keyOut(k: ApiKey): z.infer<typeof KeyOut> {
  return {
    id: k.id,
    prefix: `crl_${k.id}`,
    team_id: k.teamId,
    user_id: k.userId,
    name: k.name,
    scopes: k.scopes,
    models: k.models ? k.models.map(displayModel) : null,
    expires_at: iso(k.expiresAt),
    last_used_at: iso(k.lastUsedAt),
    revoked_at: iso(k.revokedAt),
    previous_secret_valid_until:
      k.previousValidUntil && k.previousValidUntil.getTime() > Date.now()
        ? k.previousValidUntil.toISOString()
        : null,
    created_at: k.createdAt.toISOString(),
  };
}
