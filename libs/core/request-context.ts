/**
 * What one request carries from feature to feature, in one place: the guard sets the principal, an
 * admin handler describes its change, handlers add audit facts, and the audit log reads all three
 * when the response closes. One object per request, created on first use and keyed by the Fastify
 * request in a WeakMap (it goes when the request does); each slot belongs to one feature:
 *
 * - `principal`: written by @corral/auth's guard (`setPrincipal`), read through `principalOf`;
 * - `change`: an admin route's `@AdminAction` and `recordChange(req, …)`, read by the audit log;
 * - `facts`: `auditFacts(req)`, what a handler knows for its request's audit event.
 */
import { SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/**
 * The caller as the kernel knows it. @corral/auth's `Principal` extends it with scopes, roles and
 * model allow-lists; features below auth read only these fields.
 */
export interface ContextPrincipal {
  kind: 'key' | 'session' | 'anonymous';
  userId: string | null;
  /** The key's public id (kind 'key'). */
  keyId?: string;
  /** The key's team (kind 'key'); null for sessions and anonymous callers. */
  teamId: string | null;
}

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

/** What a handler can add to its request's audit event. */
export interface AuditFacts {
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  errorCode?: string;
  /** Overrides the principal's team (a session acting in one of its teams). */
  teamId?: string;
  /** Overrides the action (`auth.login` on the login route, for example). */
  action?: string;
  detail?: Record<string, unknown>;
}

export interface RequestContext {
  principal?: ContextPrincipal;
  change?: AuditNote;
  facts?: AuditFacts;
}

const contexts = new WeakMap<object, RequestContext>();

/** The request's context (created on first use). */
export function requestContext(req: FastifyRequest): RequestContext {
  let ctx = contexts.get(req);
  if (!ctx) {
    ctx = {};
    contexts.set(req, ctx);
  }
  return ctx;
}

/** Metadata key of `@AdminAction`. */
export const ADMIN_ACTION = 'corral:admin-action';

/**
 * Names the audit action of a mutating admin route (`user.create`, `key.rotate`, `model.delete`).
 * Dotted lower-case, as the audit log requires. A spec (libs/audit/admin-actions.spec.ts) walks
 * every controller and fails for a mutating admin route without it.
 */
export const AdminAction = (action: string) => SetMetadata(ADMIN_ACTION, action);

/**
 * Describes what an admin handler changed: `recordChange(req, { resource, teamId, before, after })`.
 * The audit log takes it into the request's own event (with its outcome, actor, time, address and
 * duration; a refused or failed change is recorded too). Later calls win field by field; details
 * merge. Values are redacted by the audit log; handlers still pass views, never secret-holding
 * entities.
 */
export function recordChange(req: FastifyRequest, note: AuditNote): void {
  const ctx = requestContext(req);
  const prev = ctx.change ?? {};
  ctx.change = {
    ...prev,
    ...note,
    ...(prev.detail || note.detail ? { detail: { ...prev.detail, ...note.detail } } : {}),
  };
}

/** The note a handler left on the request, if any. */
export function changeOf(req: FastifyRequest): AuditNote | undefined {
  return contexts.get(req)?.change;
}

/** The mutable audit facts of one request (created on first use). */
export function auditFacts(req: FastifyRequest): AuditFacts {
  return (requestContext(req).facts ??= {});
}
