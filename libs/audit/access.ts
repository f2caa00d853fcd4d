/**
 * Who may read what, from @corral/auth's principal: admins and auditors see every event, team
 * owners their teams' events, everyone else nothing. Also maps that principal to the audit actor.
 */
import type { FastifyRequest } from 'fastify';
import { principalOf, type Principal } from '@corral/auth';
import { CorralError, assertNever } from '@corral/common';
import type { AuditPrincipal } from './interceptor';
import type { AuditScope } from './search';

export const isAuditor = (p: Principal) => p.globalRole === 'admin' || p.globalRole === 'auditor';

export function auditScopeFor(p: Principal): AuditScope {
  if (isAuditor(p)) return { all: true };
  const owned = Object.entries(p.teamRoles)
    .filter(([, role]) => role === 'owner')
    .map(([team]) => team);
  if (owned.length > 0) return { teams: owned };
  throw new CorralError('forbidden', 'the audit log is for admins, auditors and team owners');
}

export function requireAuditor(p: Principal): void {
  if (!isAuditor(p)) throw new CorralError('forbidden', 'this needs the admin or auditor role');
}

/** The audit actor for an authenticated request (the AuditModule's PrincipalResolver). */
export function authPrincipal(req: FastifyRequest): AuditPrincipal | undefined {
  const p = principalOf(req);
  if (!p) return undefined;
  switch (p.kind) {
    case 'key':
      return { kind: 'key', id: p.keyId ?? null, teamId: p.teamId };
    case 'session':
      return { kind: 'user', id: p.userId, teamId: p.teamId };
    case 'anonymous':
      return { kind: 'anonymous', id: p.userId, teamId: null };
    default:
      return assertNever(p.kind, 'principal kind');
  }
}

/** The event actor for a request handled here. */
export function actorOf(req: FastifyRequest): { type: AuditPrincipal['kind']; id: string | null } {
  const a = authPrincipal(req);
  return a ? { type: a.kind, id: a.id } : { type: 'anonymous', id: null };
}
