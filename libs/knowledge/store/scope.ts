/**
 * The team filter every query carries: the teams an actor may read or write, as a SQL array
 * parameter (`null` only for global admins, who see every team).
 */
import type { KbActor } from '../knowledge.service';

export function readableTeams(a: KbActor): string[] | null {
  return a.admin ? null : Object.keys(a.teamRoles);
}

export function writableTeams(a: KbActor): string[] | null {
  return a.admin
    ? null
    : Object.entries(a.teamRoles)
        .filter(([, r]) => r === 'owner' || r === 'member')
        .map(([t]) => t);
}

export function canWrite(a: KbActor, teamId: string): boolean {
  const r = a.teamRoles[teamId];
  return a.admin || r === 'owner' || r === 'member';
}
