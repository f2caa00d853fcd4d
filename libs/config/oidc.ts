/**
 * OIDC single sign-on settings (CORRAL_OIDC_*), spread into the env schema by schema.ts. OIDC is off
 * unless CORRAL_OIDC_ISSUER is set; then the client id is required and the group map is checked here,
 * at boot, so a typo in it stops the server instead of silently granting nothing.
 */
import { z } from 'zod';

export const OIDC_ENV_KEYS = {
  CORRAL_OIDC_ISSUER:
    'OpenID Connect issuer URL for console single sign-on (https; http only for loopback). Unset: OIDC is off and /auth/oidc/* answer 404.',
  CORRAL_OIDC_CLIENT_ID:
    'Client id registered at the identity provider. Required when CORRAL_OIDC_ISSUER is set.',
  CORRAL_OIDC_CLIENT_SECRET:
    'Client secret (confidential client, client_secret_basic). Unset: public client with PKCE only.',
  CORRAL_OIDC_REDIRECT_URL:
    'Callback URL registered at the provider. Defaults to <scheme>://<host of the request>/auth/oidc/callback.',
  CORRAL_OIDC_SCOPES: 'Scopes requested at login, space-separated. Defaults to "openid email profile".',
  CORRAL_OIDC_GROUPS_CLAIM: 'ID token / userinfo claim that lists the user\'s groups. Defaults to "groups".',
  CORRAL_OIDC_GROUP_MAP:
    'JSON object: group → {"admin":true}, {"auditor":true}, {"team":"<name>","role":"owner|member|viewer"} or a list of those; applied at every login. Defaults to {} (no roles from groups).',
} as const;

const GroupRule = z.union([
  z.strictObject({ admin: z.literal(true) }),
  z.strictObject({ auditor: z.literal(true) }),
  z.strictObject({ team: z.string().min(1), role: z.enum(['owner', 'member', 'viewer']) }),
]);
export type OidcGroupRule = z.infer<typeof GroupRule>;

const GroupMap = z.record(z.string().min(1), z.union([GroupRule, z.array(GroupRule)]));

const groupMapJson = z.string().transform((s, ctx): Record<string, OidcGroupRule[]> => {
  let raw: unknown;
  try {
    raw = JSON.parse(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON' });
    return z.NEVER;
  }
  const parsed = GroupMap.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    ctx.addIssue({
      code: 'custom',
      message: `group ${JSON.stringify(first?.path[0] ?? '')}: must be {"admin":true}, {"auditor":true}, {"team":"<name>","role":"owner|member|viewer"} or a list of those`,
    });
    return z.NEVER;
  }
  return Object.fromEntries(Object.entries(parsed.data).map(([g, r]) => [g, Array.isArray(r) ? r : [r]]));
});

export const OIDC_ENV_SCHEMA = {
  CORRAL_OIDC_ISSUER: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  CORRAL_OIDC_CLIENT_ID: z.string().min(1).optional(),
  CORRAL_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  CORRAL_OIDC_REDIRECT_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  CORRAL_OIDC_SCOPES: z.string().default('openid email profile'),
  CORRAL_OIDC_GROUPS_CLAIM: z.string().min(1).default('groups'),
  CORRAL_OIDC_GROUP_MAP: groupMapJson.optional(),
};

/** Console single sign-on; present only when CORRAL_OIDC_ISSUER is set. */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  /** Unset: a public client (PKCE only). */
  clientSecret?: string;
  /** Unset: derived from each login request's scheme and host. */
  redirectUrl?: string;
  /** Defaults to openid, email, profile. */
  scopes: string[];
  /** Defaults to "groups". */
  groupsClaim: string;
  /** Group name → rules. Defaults to {}. */
  groupMap: Record<string, OidcGroupRule[]>;
}

type OidcEnv = z.output<z.ZodObject<typeof OIDC_ENV_SCHEMA>>;

export function oidcConfig(e: OidcEnv): OidcConfig | undefined {
  if (!e.CORRAL_OIDC_ISSUER) return undefined;
  if (!e.CORRAL_OIDC_CLIENT_ID)
    throw new Error(
      'invalid configuration:\n  CORRAL_OIDC_CLIENT_ID: required when CORRAL_OIDC_ISSUER is set',
    );
  const scopes = e.CORRAL_OIDC_SCOPES.split(/\s+/).filter(Boolean);
  if (!scopes.includes('openid'))
    throw new Error('invalid configuration:\n  CORRAL_OIDC_SCOPES: must include "openid"');
  return {
    issuer: e.CORRAL_OIDC_ISSUER,
    clientId: e.CORRAL_OIDC_CLIENT_ID,
    clientSecret: e.CORRAL_OIDC_CLIENT_SECRET,
    redirectUrl: e.CORRAL_OIDC_REDIRECT_URL,
    scopes,
    groupsClaim: e.CORRAL_OIDC_GROUPS_CLAIM,
    groupMap: e.CORRAL_OIDC_GROUP_MAP ?? {},
  };
}
