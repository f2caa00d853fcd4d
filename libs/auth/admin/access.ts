/**
 * Who may do what in the admin API. Global admins manage everything; a team owner (a console user
 * with the owner role, or a key with the `admin` scope) manages its own team; another team's
 * resources answer 404, as if they did not exist.
 */
import { CorralError } from '@corral/common';
import { isGlobalAdmin, type Principal } from '../principal';
import type { AuthRepositories } from '../repositories';
import type { Team } from '../auth.types';

export function requireGlobalAdmin(p: Principal): void {
  if (!isGlobalAdmin(p)) throw new CorralError('forbidden', 'this action requires the admin role');
}

/** Teams the caller manages as owner (all for admins: undefined). */
export function ownedTeams(p: Principal): string[] | undefined {
  if (isGlobalAdmin(p)) return undefined;
  return Object.entries(p.teamRoles)
    .filter(([, r]) => r === 'owner')
    .map(([t]) => t);
}

export const teamNotFound = () => new CorralError('not_found', 'team not found');

/**
 * The team, when the caller may see it (`read`: any member) or manage it (`manage`: owner).
 * Outsiders get 404; members without the owner role get 403 for `manage`.
 */
export async function teamFor(
  repos: AuthRepositories,
  p: Principal,
  teamId: string,
  need: 'read' | 'manage',
): Promise<Team> {
  const role = p.teamRoles[teamId];
  if (!isGlobalAdmin(p) && role === undefined) throw teamNotFound();
  const team = await repos.teams.findById(teamId);
  if (!team) throw teamNotFound();
  if (need === 'manage' && !isGlobalAdmin(p) && role !== 'owner')
    throw new CorralError('forbidden', 'this action requires the owner role in this team');
  return team;
}
