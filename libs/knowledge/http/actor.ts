import { isGlobalAdmin, type Principal } from '@corral/auth';
import type { KbActor } from '../knowledge.service';

/**
 * The knowledge service's view of the caller. A key acts in its own team; a console session that
 * belongs to exactly one team creates there by default, and one in several must name the team.
 */
export function actorOf(p: Principal): KbActor {
  const teams = Object.keys(p.teamRoles);
  return {
    admin: isGlobalAdmin(p),
    teamRoles: p.teamRoles,
    defaultTeam: p.teamId ?? (p.kind === 'session' && teams.length === 1 ? teams[0]! : null),
    userId: p.userId,
    keyId: p.keyId ?? null,
  };
}
