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

/**
 * A team filter the caller may use: 404 for a team it is not in (as for every other team
 * resource, so team ids cannot be probed), 403 for a team it is in without the owner role.
 */
export function requireTeamInScope(p: Principal, scope: AuditScope, team: string): void {
  if ('all' in scope || scope.teams.includes(team)) return;
  if (p.teamRoles[team] === undefined) throw new CorralError('not_found', 'team not found');
  throw new CorralError('forbidden', "a team's audit log is for its owners");
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
