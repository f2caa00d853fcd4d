import { apiKeyFromRow, type ApiKey } from '../auth.types';
import type { Scope } from '../scopes';
import { pageClause, toPage, uniqueOr409, whereSql, type Page, type PageRequest, type Query } from './sql';

export interface NewApiKey {
  id: string;
  teamId: string;
  userId: string | null;
  name: string;
  secretHash: string;
  scopes: Scope[];
  models: string[] | null;
  expiresAt: Date | null;
  createdBy: string | null;
}

export interface KeyFilter extends PageRequest {
  /** Include revoked keys. Defaults to false. */
  includeRevoked?: boolean;
  userId?: string;
  /** Substring of the name, case-insensitive. */
  name?: string;
}

/**
 * API keys. Management methods are per team and require the team id; `findForVerification` is the
 * one lookup by public id alone, because a presented key names no team until it is verified.
 */
export class ApiKeysRepository {
  constructor(private readonly q: Query) {}

  async insert(k: NewApiKey): Promise<ApiKey> {
    const [row] = await uniqueOr409(`a key named '${k.name}' in this team`, () =>
      this.q(
        `INSERT INTO auth_api_keys (id, team_id, user_id, name, secret_hash, scopes, models, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6::text[], $7::text[], $8, $9) RETURNING *`,
        [k.id, k.teamId, k.userId, k.name, k.secretHash, k.scopes, k.models, k.expiresAt, k.createdBy],
      ),
    );
    return apiKeyFromRow(row!);
  }

  async findForVerification(id: string): Promise<ApiKey | undefined> {
    const [row] = await this.q(`SELECT * FROM auth_api_keys WHERE id = $1`, [id]);
    return row ? apiKeyFromRow(row) : undefined;
  }

  async findInTeam(teamId: string, id: string): Promise<ApiKey | undefined> {
    const [row] = await this.q(`SELECT * FROM auth_api_keys WHERE team_id = $1 AND id = $2`, [teamId, id]);
    return row ? apiKeyFromRow(row) : undefined;
  }

  /** Keys of the given teams (one or more; never "all" — admins pass every team explicitly or use listAll). */
  async listInTeams(teamIds: readonly string[], filter: KeyFilter): Promise<Page<ApiKey>> {
    if (teamIds.length === 0) return { items: [], nextCursor: null };
    return this.listWhere([`team_id = ANY($1::text[])`], [teamIds], filter);
  }

  /** Every team's keys: for global admins only (the controller checks). */
  async listAll(filter: KeyFilter): Promise<Page<ApiKey>> {
    return this.listWhere([], [], filter);
  }

  private async listWhere(where: string[], params: unknown[], filter: KeyFilter): Promise<Page<ApiKey>> {
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    if (filter.userId) {
      params.push(filter.userId);
      where.push(`user_id = $${params.length}`);
    }
    if (filter.name) {
      params.push(`%${filter.name.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c)}%`);
      where.push(`lower(name) LIKE $${params.length}`);
    }
    const { order, limit } = pageClause(filter, where, params);
    const rows = await this.q(`SELECT * FROM auth_api_keys ${whereSql(where)} ${order}`, params);
    return toPage(rows.map(apiKeyFromRow), limit, (k) => k.id);
  }

  /** New secret; the old one stays valid until `previousValidUntil` (null: not at all). */
  async rotate(
    teamId: string,
    id: string,
    secretHash: string,
    previousValidUntil: Date | null,
  ): Promise<ApiKey | undefined> {
    const [row] = await this.q(
      `UPDATE auth_api_keys SET previous_secret_hash = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret_hash END,
         previous_valid_until = $4::timestamptz, secret_hash = $3
       WHERE team_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING *`,
      [teamId, id, secretHash, previousValidUntil],
    );
    return row ? apiKeyFromRow(row) : undefined;
  }

  async revoke(teamId: string, id: string): Promise<ApiKey | undefined> {
    const [row] = await this.q(
      `UPDATE auth_api_keys SET revoked_at = coalesce(revoked_at, now())
       WHERE team_id = $1 AND id = $2 RETURNING *`,
      [teamId, id],
    );
    return row ? apiKeyFromRow(row) : undefined;
  }

  /** One statement for a batch of last-used times (written off the request path). */
  async touchLastUsed(entries: readonly (readonly [string, Date])[]): Promise<void> {
    if (entries.length === 0) return;
    await this.q(
      `UPDATE auth_api_keys k SET last_used_at = GREATEST(coalesce(k.last_used_at, u.t), u.t)
       FROM (SELECT unnest($1::text[]) AS id, unnest($2::timestamptz[]) AS t) u WHERE k.id = u.id`,
      [entries.map((e) => e[0]), entries.map((e) => e[1].toISOString())],
    );
  }
}
