/**
 * Quota policies in the database (tables from migration QuotaPolicies1764400000000). All SQL for
 * them lives here; callers see TeamPolicy/KeyPolicy, never rows.
 */
import type { DataSource } from 'typeorm';
import type { KeyPolicy, Limits, TeamPolicy } from './policy';

const COLUMNS: [keyof Limits, string][] = [
  ['requestsPerMinute', 'requests_per_minute'],
  ['tokensPerMinute', 'tokens_per_minute'],
  ['concurrentRequests', 'concurrent_requests'],
  ['dailyTokens', 'daily_tokens'],
  ['monthlyTokens', 'monthly_tokens'],
  ['maxTokensPerRequest', 'max_tokens_per_request'],
  ['allowedModels', 'allowed_models'],
];

type Row = Record<string, unknown>;

function limitsFrom(row: Row): Limits {
  const out: Limits = {};
  for (const [field, col] of COLUMNS) {
    const v = row[col];
    if (v === null || v === undefined) continue;
    if (field === 'allowedModels') out.allowedModels = v as string[];
    else out[field] = Number(v);
  }
  return out;
}

function values(p: Limits): unknown[] {
  return COLUMNS.map(([f]) => p[f] ?? null);
}

export class QuotaPolicyRepository {
  constructor(private readonly ds: DataSource) {}

  async getTeam(teamId: string): Promise<TeamPolicy | undefined> {
    const [row] = (await this.ds.query('SELECT * FROM quota_team_policy WHERE team_id = $1', [
      teamId,
    ])) as Row[];
    return row && { ...limitsFrom(row), weight: Number(row.weight) };
  }

  async getKey(keyId: string): Promise<KeyPolicy | undefined> {
    const [row] = (await this.ds.query('SELECT * FROM quota_key_policy WHERE key_id = $1', [keyId])) as Row[];
    return row && { ...limitsFrom(row), priority: row.priority as KeyPolicy['priority'] };
  }

  /** Replaces the team's policy: a field left out means no limit. */
  async putTeam(teamId: string, p: TeamPolicy, by?: string): Promise<TeamPolicy> {
    await this.upsert('quota_team_policy', 'team_id', teamId, 'weight', p.weight ?? 1, p, by);
    return (await this.getTeam(teamId))!;
  }

  async putKey(keyId: string, p: KeyPolicy, by?: string): Promise<KeyPolicy> {
    await this.upsert('quota_key_policy', 'key_id', keyId, 'priority', p.priority ?? 'interactive', p, by);
    return (await this.getKey(keyId))!;
  }

  async deleteTeam(teamId: string): Promise<boolean> {
    return this.deleted(`DELETE FROM quota_team_policy WHERE team_id = $1 RETURNING 1`, teamId);
  }

  async deleteKey(keyId: string): Promise<boolean> {
    return this.deleted(`DELETE FROM quota_key_policy WHERE key_id = $1 RETURNING 1`, keyId);
  }

  // A bare DELETE comes back from TypeORM as [rows, count]; a WITH … SELECT is a plain row set.
  private async deleted(sql: string, id: string): Promise<boolean> {
    const [row] = (await this.ds.query(`WITH d AS (${sql}) SELECT count(*)::int AS n FROM d`, [id])) as {
      n: number;
    }[];
    return (row?.n ?? 0) > 0;
  }

  private async upsert(
    table: string,
    idCol: string,
    id: string,
    extraCol: string,
    extra: unknown,
    p: Limits,
    by?: string,
  ) {
    const cols = [idCol, extraCol, ...COLUMNS.map(([, c]) => c), 'updated_by'];
    const params = [id, extra, ...values(p), by ?? null];
    const set = cols
      .slice(1)
      .map((c) => `${c} = EXCLUDED.${c}`)
      .concat('updated_at = now()')
      .join(', ');
    await this.ds.query(
      `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
       ON CONFLICT (${idCol}) DO UPDATE SET ${set}`,
      params,
    );
  }
}
