/**
 * What an admin handler changed, for the audit log. Every mutating admin route declares its action
 * with `@AdminAction('team.update')`, and the handler describes the change with
 * `recordChange(req, { resource, teamId, before, after })`. The audit log (@corral/audit, which
 * depends on this library, hence the seam lives here) reads both when the response closes, so the
 * change lands in the request's own event with its outcome, actor, time, address and duration; a
 * refused or failed change is recorded too, with its status. Values are redacted by the audit log
 * (secrets, hashes, passwords); handlers still pass views, never entities that hold secrets.
 *
 * A spec (libs/audit/admin-actions.spec.ts) walks every controller of the gateway and fails for a
 * mutating admin route without `@AdminAction`, so a new handler cannot silently go unaudited.
 */
import { SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** Metadata key of `@AdminAction`. */
export const ADMIN_ACTION = 'corral:admin-action';

/**
 * Names the audit action of a mutating admin route (`user.create`, `key.rotate`, `model.delete`).
 * Dotted lower-case, as the audit log requires.
 */
export const AdminAction = (action: string) => SetMetadata(ADMIN_ACTION, action);

/** What a handler knows about its change (or about a login). */
export interface AuditNote {
  /** Overrides the action (`auth.login`); admin routes usually name it with `@AdminAction`. */
  action?: string;
  /** What was touched: `team:<id>`, `key:<id>`, `user:<id>`, `model:<name>`. */
  resource?: string;
  /** The team the change belongs to. */
  teamId?: string | null;
  /** The actor when the request's principal does not say (a login names the user it logged in). */
  actor?: { type: 'user' | 'key' | 'anonymous' | 'system'; id: string | null };
  /** The value before the change (`null` when it did not exist). */
  before?: unknown;
  /** The value after the change (`null` when it is gone). */
  after?: unknown;
  /** Other context: a login's email, a rotation's grace period. */
  detail?: Record<string, unknown>;
}

const NOTE = Symbol('corral.audit.note');

type WithNote = FastifyRequest & { [NOTE]?: AuditNote };

/** Adds to the request's note (later calls win field by field; details merge). */
export function recordChange(req: FastifyRequest, note: AuditNote): void {
  const r = req as WithNote;
  const prev = r[NOTE] ?? {};
  r[NOTE] = {
    ...prev,
    ...note,
    ...(prev.detail || note.detail ? { detail: { ...prev.detail, ...note.detail } } : {}),
  };
}

/** The note a handler left on the request, if any. */
export function changeOf(req: FastifyRequest): AuditNote | undefined {
  return (req as WithNote)[NOTE];
}
