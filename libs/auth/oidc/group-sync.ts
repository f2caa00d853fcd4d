/**
 * Groups → roles, applied at every OIDC login. The map governs only what it mentions: teams named in
 * it (membership added, changed or removed to match the groups) and the global roles it can grant
 * (a user whose groups no longer grant "admin" loses it; an "auditor" set by hand stays when the map
 * never grants "auditor"). Memberships of teams the map does not name are never touched.
 */
import { Logger } from '@nestjs/common';
import type { OidcGroupRule } from '@corral/config';
import type { User } from '../auth.types';
import type { AuthRepositories } from '../repositories';
import type { GlobalRole, TeamRole } from '../scopes';

const TEAM_RANK: Record<TeamRole, number> = { viewer: 1, member: 2, owner: 3 };
const GLOBAL_RANK: Record<GlobalRole, number> = { auditor: 1, admin: 2 };

export interface DesiredRoles {
  /** Global roles the map can grant at all. */
  governedGlobal: Set<GlobalRole>;
  /** The highest global role the user's groups grant. */
  globalRole: GlobalRole | null;
  /** Team name (lower-case) → role granted, for every team the map names (null: none granted). */
  teams: Map<string, { name: string; role: TeamRole | null }>;
}

/** Groups as the claim carries them: an array of strings, or one string. */
export function groupsFromClaim(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((g): g is string => typeof g === 'string');
  return [];
}

export function desiredRoles(map: Record<string, OidcGroupRule[]>, groups: readonly string[]): DesiredRoles {
  const mine = new Set(groups);
  const out: DesiredRoles = { governedGlobal: new Set(), globalRole: null, teams: new Map() };
  const higherGlobal = (a: GlobalRole | null, b: GlobalRole) =>
    a && GLOBAL_RANK[a] >= GLOBAL_RANK[b] ? a : b;
  for (const [group, rules] of Object.entries(map)) {
    const granted = mine.has(group);
    for (const rule of rules) {
      if ('admin' in rule || 'auditor' in rule) {
        const role: GlobalRole = 'admin' in rule ? 'admin' : 'auditor';
        out.governedGlobal.add(role);
        if (granted) out.globalRole = higherGlobal(out.globalRole, role);
      } else {
        const key = rule.team.toLowerCase();
        const entry = out.teams.get(key) ?? { name: rule.team, role: null };
        if (granted && (!entry.role || TEAM_RANK[rule.role] > TEAM_RANK[entry.role])) entry.role = rule.role;
        out.teams.set(key, entry);
      }
    }
  }
  return out;
}

/** The global role after sync: what the groups grant, or a hand-set role the map does not govern. */
export function nextGlobalRole(current: GlobalRole | null, d: DesiredRoles): GlobalRole | null {
  const kept = current && !d.governedGlobal.has(current) ? current : null;
  if (!kept) return d.globalRole;
  if (!d.globalRole) return kept;
  return GLOBAL_RANK[kept] >= GLOBAL_RANK[d.globalRole] ? kept : d.globalRole;
}

const logger = new Logger('OIDC');

/** Applies the map to one user; true when anything changed (callers then drop cached principals). */
export async function syncRoles(
  repos: AuthRepositories,
  user: User,
  map: Record<string, OidcGroupRule[]>,
  groups: readonly string[],
): Promise<boolean> {
  const d = desiredRoles(map, groups);
  let changed = false;
  const role = nextGlobalRole(user.globalRole, d);
  if (role !== user.globalRole) {
    await repos.users.update(user.id, { globalRole: role });
    changed = true;
  }
  if (d.teams.size === 0) return changed;
  const current = new Map((await repos.teams.membershipsOfUser(user.id)).map((m) => [m.teamId, m.role]));
  for (const [key, want] of d.teams) {
    // Names are unique case-insensitively; the substring search narrows, the comparison decides.
    const found = await repos.teams.list({ name: want.name, limit: 200 });
    const team = found.items.find((t) => t.name.toLowerCase() === key);
    if (!team) {
      // Teams are created by admins, not by whoever the provider names: a typo must not mint one.
      if (want.role) logger.warn(`group map names team '${want.name}', which does not exist; skipped`);
      continue;
    }
    const have = current.get(team.id);
    if (want.role && !have) await repos.teams.addMember(team.id, user.id, want.role);
    else if (want.role && have !== want.role) await repos.teams.setRole(team.id, user.id, want.role);
    else if (!want.role && have) await repos.teams.removeMember(team.id, user.id);
    else continue;
    changed = true;
  }
  return changed;
}
