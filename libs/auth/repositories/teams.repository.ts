import { membershipFromRow, teamFromRow, type Membership, type Team } from '../auth.types';
import type { TeamRole } from '../scopes';
import { pageClause, toPage, uniqueOr409, whereSql, type Page, type PageRequest, type Query } from './sql';

export interface TeamFilter extends PageRequest {
  /** Substring of the name, case-insensitive. */
  name?: string;
}

export interface MemberFilter extends PageRequest {
  role?: TeamRole;
}

export interface MemberView extends Membership {
  email: string;
  name: string;
}

/** Teams and their memberships. Membership methods take the team id first, always. */
export class TeamsRepository {
  constructor(private readonly q: Query) {}

  async create(id: string, name: string): Promise<Team> {
    const [row] = await uniqueOr409(`a team named '${name}'`, () =>
      this.q(`INSERT INTO auth_teams (id, name) VALUES ($1, $2) RETURNING *`, [id, name]),
    );
    return teamFromRow(row!);
  }

  async findById(id: string): Promise<Team | undefined> {
    const [row] = await this.q(`SELECT * FROM auth_teams WHERE id = $1`, [id]);
    return row ? teamFromRow(row) : undefined;
  }

  /** Every team (admins), or only `teamIds` (a caller's own teams) when given. */
  async list(filter: TeamFilter, teamIds?: readonly string[]): Promise<Page<Team>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (teamIds) {
      params.push(teamIds);
      where.push(`id = ANY($${params.length}::text[])`);
    }
    if (filter.name) {
      params.push(`%${filter.name.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c)}%`);
      where.push(`lower(name) LIKE $${params.length}`);
    }
    const { order, limit } = pageClause(filter, where, params);
    const rows = await this.q(`SELECT * FROM auth_teams ${whereSql(where)} ${order}`, params);
    return toPage(rows.map(teamFromRow), limit, (t) => t.id);
  }

  async rename(id: string, name: string): Promise<Team | undefined> {
    const [row] = await uniqueOr409(`a team named '${name}'`, () =>
      this.q(`UPDATE auth_teams SET name = $2 WHERE id = $1 RETURNING *`, [id, name]),
    );
    return row ? teamFromRow(row) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.q(`DELETE FROM auth_teams WHERE id = $1 RETURNING id`, [id]);
    return rows.length > 0;
  }

  async addMember(teamId: string, userId: string, role: TeamRole): Promise<Membership> {
    const [row] = await uniqueOr409('that membership', () =>
      this.q(`INSERT INTO auth_memberships (team_id, user_id, role) VALUES ($1, $2, $3) RETURNING *`, [
        teamId,
        userId,
        role,
      ]),
    );
    return membershipFromRow(row!);
  }

  async getMember(teamId: string, userId: string): Promise<MemberView | undefined> {
    const [row] = await this.q(
      `SELECT m.*, u.email, u.name FROM auth_memberships m JOIN auth_users u ON u.id = m.user_id
       WHERE m.team_id = $1 AND m.user_id = $2`,
      [teamId, userId],
    );
    return row ? { ...membershipFromRow(row), email: String(row.email), name: String(row.name) } : undefined;
  }

  async listMembers(teamId: string, filter: MemberFilter): Promise<Page<MemberView>> {
    const where = ['m.team_id = $1'];
    const params: unknown[] = [teamId];
    if (filter.role) {
      params.push(filter.role);
      where.push(`m.role = $${params.length}`);
    }
    // Keyset on (created_at, user_id): the cursor's id is the user id.
    const { order, limit } = pageClause(filter, where, params, 'm', 'user_id');
    const rows = await this.q(
      `SELECT m.*, u.email, u.name FROM auth_memberships m
       JOIN auth_users u ON u.id = m.user_id ${whereSql(where)} ${order}`,
      params,
    );
    const items = rows.map((r) => ({
      ...membershipFromRow(r),
      email: String(r.email),
      name: String(r.name),
    }));
    return toPage(items, limit, (m) => m.userId);
  }

  async setRole(teamId: string, userId: string, role: TeamRole): Promise<Membership | undefined> {
    const [row] = await this.q(
      `UPDATE auth_memberships SET role = $3 WHERE team_id = $1 AND user_id = $2 RETURNING *`,
      [teamId, userId, role],
    );
    return row ? membershipFromRow(row) : undefined;
  }

  async removeMember(teamId: string, userId: string): Promise<boolean> {
    const rows = await this.q(
      `DELETE FROM auth_memberships WHERE team_id = $1 AND user_id = $2 RETURNING user_id`,
      [teamId, userId],
    );
    return rows.length > 0;
  }

  async countOwners(teamId: string): Promise<number> {
    const [row] = await this.q(
      `SELECT count(*)::int AS n FROM auth_memberships WHERE team_id = $1 AND role = 'owner'`,
      [teamId],
    );
    return Number(row?.n ?? 0);
  }

  /** Every team a user belongs to, with the role (used to build a caller's identity). */
  async membershipsOfUser(userId: string): Promise<Membership[]> {
    const rows = await this.q(`SELECT * FROM auth_memberships WHERE user_id = $1`, [userId]);
    return rows.map(membershipFromRow);
  }
}
