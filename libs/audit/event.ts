/**
 * The audit event model. `AuditEventInput` is what callers record; the appender assigns `seq` and
 * the chain hashes. Actor ids name a user or key by id only: a secret never enters an event, and
 * admin-change `before`/`after` values pass through `redact()` before they are stored.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { redact } from './redact';

export const ACTOR_TYPES = ['user', 'key', 'anonymous', 'system'] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

/** Common actions; any dotted lower-case name is accepted (`team.update`, `model.delete`, ...). */
export const AUDIT_ACTIONS = {
  apiRequest: 'api.request',
  authFailure: 'auth.failure',
  quotaRefused: 'quota.refused',
} as const;

const text = (max: number) => z.string().max(max);

export const AuditEventInputSchema = z.object({
  /** Assigned at enqueue when absent; the appender skips an id it has already written. */
  id: z.uuid().optional(),
  /** Defaults to the time of `record()`. */
  time: z.union([z.date(), z.iso.datetime({ offset: true })]).optional(),
  requestId: text(200).nullish(),
  actor: z.object({ type: z.enum(ACTOR_TYPES), id: text(200).nullish() }),
  teamId: text(200).nullish(),
  action: z
    .string()
    .regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/, 'must be a dotted lower-case name like team.update')
    .max(100),
  resource: text(500).nullish(),
  route: text(500).nullish(),
  model: text(300).nullish(),
  outcome: z.object({ status: z.number().int().min(0).max(999), errorCode: text(100).nullish() }),
  tokens: z
    .object({ prompt: z.number().int().min(0).nullish(), completion: z.number().int().min(0).nullish() })
    .nullish(),
  durationMs: z.number().int().min(0).nullish(),
  clientAddress: text(100).nullish(),
  userAgent: text(1000).nullish(),
  /** Admin changes: the values before and after, redacted before storage. */
  before: z.unknown().optional(),
  after: z.unknown().optional(),
  /** Anything else worth keeping (a refusal reason, a login name); redacted too. */
  detail: z.record(z.string(), z.unknown()).optional(),
});
export type AuditEventInput = z.input<typeof AuditEventInputSchema>;

/** One event as stored and hashed. Absent values are `null`, so the canonical form is total. */
export interface AuditEvent {
  seq: number;
  id: string;
  time: string;
  requestId: string | null;
  actorType: ActorType;
  actorId: string | null;
  teamId: string | null;
  action: string;
  resource: string | null;
  route: string | null;
  model: string | null;
  status: number;
  errorCode: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  durationMs: number | null;
  clientAddress: string | null;
  userAgent: string | null;
  /** `{ before?, after?, ...detail }` after redaction, or null. */
  details: Record<string, unknown> | null;
}

/** An event waiting in the buffer: everything but its place in the chain. */
export type PendingEvent = Omit<AuditEvent, 'seq'>;

/** Strips characters PostgreSQL text/jsonb cannot hold, so what is hashed is what is stored. */
function clean(s: string | null | undefined): string | null {
  if (s === null || s === undefined) return null;
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u0000/g, '');
}

/** Normalises JSON-ish values to what a jsonb round trip returns (no undefined, no NUL, finite numbers). */
export function jsonNormal(value: unknown): unknown {
  if (value === undefined) return undefined;
  const s = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'string') return clean(v);
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
  return s === undefined ? undefined : (JSON.parse(s) as unknown);
}

/** Validates and normalises an input into the pending form. Throws a zod error on bad input. */
export function toPendingEvent(input: AuditEventInput, now = new Date()): PendingEvent {
  const e = AuditEventInputSchema.parse(input);
  let details: Record<string, unknown> | null = null;
  if (e.before !== undefined || e.after !== undefined || e.detail) {
    details = jsonNormal(
      redact({
        ...(e.detail ?? {}),
        ...(e.before !== undefined ? { before: e.before } : {}),
        ...(e.after !== undefined ? { after: e.after } : {}),
      }),
    ) as Record<string, unknown>;
  }
  return {
    id: e.id ?? randomUUID(),
    time: new Date(e.time ?? now).toISOString(),
    requestId: clean(e.requestId),
    actorType: e.actor.type,
    actorId: clean(e.actor.id),
    teamId: clean(e.teamId),
    action: e.action,
    resource: clean(e.resource),
    route: clean(e.route),
    model: clean(e.model),
    status: e.outcome.status,
    errorCode: clean(e.outcome.errorCode),
    promptTokens: e.tokens?.prompt ?? null,
    completionTokens: e.tokens?.completion ?? null,
    durationMs: e.durationMs ?? null,
    clientAddress: clean(e.clientAddress),
    userAgent: clean(e.userAgent),
    details,
  };
}
