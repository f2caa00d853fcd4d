/**
 * Quota policies: what a team may use, and how one of its keys narrows that. Policies are data
 * (edited over the admin API and the CLI), so every field is validated here with a message that
 * names it; an unset field means "no limit".
 */
import type { Priority } from '@corral/dispatch';
import { z } from 'zod';
import { CorralError } from '@corral/common';

/** Larger than any real limit, small enough that sums stay exact in doubles (Lua and JS). */
export const MAX_LIMIT = 1e15;

const limit = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .min(0, `${what} must not be negative`)
    .max(MAX_LIMIT, `${what} is absurdly large (at most ${MAX_LIMIT})`)
    .int(`${what} must be a whole number`)
    .nullable()
    .optional();

export const LimitsSchema = z.strictObject({
  requestsPerMinute: limit('requestsPerMinute'),
  /** Prompt plus completion tokens. */
  tokensPerMinute: limit('tokensPerMinute'),
  concurrentRequests: limit('concurrentRequests'),
  /** Per UTC calendar day. */
  dailyTokens: limit('dailyTokens'),
  /** Per UTC calendar month. */
  monthlyTokens: limit('monthlyTokens'),
  /** Prompt plus completion of one request. */
  maxTokensPerRequest: limit('maxTokensPerRequest'),
  /** Model names (`name` or `name:tag`); unset = every model. */
  allowedModels: z
    .array(z.string().min(1, 'allowedModels entries must not be empty').max(256))
    .max(1000, 'allowedModels has more than 1000 entries')
    .nullable()
    .optional(),
});
export type Limits = z.infer<typeof LimitsSchema>;

export const TeamPolicySchema = LimitsSchema.extend({
  /** Share of the GPU pool under contention relative to other teams. Defaults to 1. */
  weight: z
    .number({ error: 'weight must be a number' })
    .positive('weight must be greater than 0')
    .max(1000, 'weight is absurdly large (at most 1000)')
    .optional(),
});
export type TeamPolicy = z.infer<typeof TeamPolicySchema>;

export const PRIORITIES = ['interactive', 'batch'] as const satisfies readonly Priority[];

export const KeyPolicySchema = LimitsSchema.extend({
  /** Interactive requests of a team are served before its batch requests. Defaults to interactive. */
  priority: z.enum(PRIORITIES, { error: `priority must be one of ${PRIORITIES.join(', ')}` }).optional(),
});
export type KeyPolicy = z.infer<typeof KeyPolicySchema>;

/** Parses untrusted input; throws CorralError('bad_request') naming the first bad field. */
export function parsePolicy<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.join('.') || undefined;
  let message = issue?.message ?? 'invalid quota policy';
  if (issue?.code === 'unrecognized_keys') message = `unknown field(s): ${issue.keys.join(', ')}`;
  else if (field && !message.includes(field)) message = `${field}: ${message}`;
  throw new CorralError('bad_request', message, field);
}

const NUMERIC = [
  'requestsPerMinute',
  'tokensPerMinute',
  'concurrentRequests',
  'dailyTokens',
  'monthlyTokens',
  'maxTokensPerRequest',
] as const;
export type NumericLimit = (typeof NUMERIC)[number];
export const NUMERIC_LIMITS: readonly NumericLimit[] = NUMERIC;

export interface EffectivePolicy {
  /** The limits of each scope that the store enforces (team counters and key counters are separate). */
  team: Limits;
  key?: Limits;
  /** min(team, key) per numeric field: what one request of this key may do. */
  combined: Limits;
  weight: number;
  priority: Priority;
}

/** A key can only narrow its team: each limit is the smaller one, models the intersection. */
export function effectivePolicy(team: TeamPolicy | undefined, key: KeyPolicy | undefined): EffectivePolicy {
  const combined: Limits = {};
  for (const f of NUMERIC) {
    const values = [team?.[f], key?.[f]].filter((v): v is number => typeof v === 'number');
    if (values.length) combined[f] = Math.min(...values);
  }
  return {
    team: team ?? {},
    key,
    combined,
    weight: team?.weight ?? 1,
    priority: key?.priority ?? 'interactive',
  };
}

/** `llama3` allows every tag of llama3; `llama3:8b` only that tag. */
export function modelMatches(allowed: string, model: string): boolean {
  const norm = (n: string) => (n.includes(':') ? n : `${n}:latest`);
  if (!allowed.includes(':')) return model.split(':')[0] === allowed;
  return norm(allowed) === norm(model);
}

/** Both the team's and the key's lists must allow the model (unset = any). */
export function modelAllowed(p: EffectivePolicy, model: string): boolean {
  const ok = (list?: string[] | null) => !list || list.some((a) => modelMatches(a, model));
  return ok(p.team.allowedModels) && ok(p.key?.allowedModels);
}
