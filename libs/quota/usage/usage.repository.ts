/**
 * Usage SQL: batched inserts that keep the hourly rollups in the same statement (so a rollup is
 * always the sum of its raw rows, even when a batch is retried: duplicates are skipped by
 * (ts, request_id) and only inserted rows are rolled up), monthly partitions created on demand,
 * and the grouped queries behind /admin/v1/usage, which read the rollups only.
 */
import type { DataSource } from 'typeorm';
import type { UsageBatchWriter, UsageQuery, UsageRecord, UsageRow } from './usage.types';

const GROUP_COLUMNS = { team: 'team_id', key: 'key_id', user: 'user_id', model: 'model' } as const;
const FIELD = { team: 'teamId', key: 'keyId', user: 'userId', model: 'model' } as const;

export class UsageRepository implements UsageBatchWriter {
  private readonly partitions = new Set<string>();

  constructor(private readonly ds: DataSource) {}

  /** Creates the month's partition of usage_record if missing; returns its name. */
  async ensurePartition(at: Date): Promise<string> {
    const y = at.getUTCFullYear();
    const m = at.getUTCMonth();
    const name = `usage_record_p${y}${String(m + 1).padStart(2, '0')}`;
    if (this.partitions.has(name)) return name;
    const from = new Date(Date.UTC(y, m, 1)).toISOString();
    const to = new Date(Date.UTC(y, m + 1, 1)).toISOString();
    const [exists] = (await this.ds.query(`SELECT to_regclass($1) IS NOT NULL AS e`, [name])) as {
      e: boolean;
    }[];
    if (!exists?.e) {
      try {
        await this.ds.query(
          `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF usage_record FOR VALUES FROM ('${from}') TO ('${to}')`,
        );
      } catch {
        // Another writer made it first, or rows of that month sit in the default partition: they
        // stay there (still counted), and a maintenance job can move them.
      }
    }
    this.partitions.add(name);
    return name;
  }

  async insertBatch(records: UsageRecord[]): Promise<number> {
    if (!records.length) return 0;
    const months = new Map<string, Date>();
    for (const r of records) months.set(`${r.ts.getUTCFullYear()}-${r.ts.getUTCMonth()}`, r.ts);
    for (const d of months.values()) await this.ensurePartition(d);
    const payload = JSON.stringify(
      records.map((r) => ({
        ts: r.ts.toISOString(),
        request_id: r.requestId,
        team_id: r.teamId ?? null,
        key_id: r.keyId ?? null,
        user_id: r.userId ?? null,
        model: r.model,
        prompt_tokens: r.promptTokens,
        completion_tokens: r.completionTokens,
        ttft_ms: r.ttftMs ?? null,
        duration_ms: r.durationMs,
        status: r.status,
      })),
    );
    const [row] = (await this.ds.query(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
           ts timestamptz, request_id text, team_id text, key_id text, user_id text, model text,
           prompt_tokens integer, completion_tokens integer, ttft_ms integer, duration_ms integer, status text)
       ), ins AS (
         INSERT INTO usage_record SELECT ts, request_id, team_id, key_id, user_id, model, prompt_tokens,
           completion_tokens, ttft_ms, duration_ms, status FROM input
         ON CONFLICT DO NOTHING
         RETURNING *
       ), roll AS (
         INSERT INTO usage_hourly AS h (hour, team_id, key_id, user_id, model, requests, errors, prompt_tokens,
           completion_tokens, duration_ms, ttft_ms_sum, ttft_count)
         SELECT date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce(team_id, ''),
           coalesce(key_id, ''), coalesce(user_id, ''), model, count(*), count(*) FILTER (WHERE status <> 'ok'),
           sum(prompt_tokens), sum(completion_tokens), sum(duration_ms), coalesce(sum(ttft_ms), 0), count(ttft_ms)
         FROM ins GROUP BY 1, 2, 3, 4, 5
         ON CONFLICT (hour, team_id, key_id, user_id, model) DO UPDATE SET
           requests = h.requests + EXCLUDED.requests, errors = h.errors + EXCLUDED.errors,
           prompt_tokens = h.prompt_tokens + EXCLUDED.prompt_tokens,
           completion_tokens = h.completion_tokens + EXCLUDED.completion_tokens,
           duration_ms = h.duration_ms + EXCLUDED.duration_ms,
           ttft_ms_sum = h.ttft_ms_sum + EXCLUDED.ttft_ms_sum, ttft_count = h.ttft_count + EXCLUDED.ttft_count
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM ins)::int AS inserted`,
      [payload],
    )) as { inserted: number }[];
    return row?.inserted ?? 0;
  }

  /** Grouped usage from the hourly rollups. `table` is for tests that compare against the raw rows. */
  async query(
    q: Omit<UsageQuery, 'format'>,
    table: 'usage_hourly' | 'usage_record' = 'usage_hourly',
  ): Promise<UsageRow[]> {
    const raw = table === 'usage_record';
    const timeCol = raw ? 'ts' : 'hour';
    const params: unknown[] = [q.from.toISOString(), q.to.toISOString()];
    const where = [`${timeCol} >= $1`, `${timeCol} < $2`];
    for (const g of ['team', 'key', 'user', 'model'] as const) {
      const v = q[`${g === 'model' ? 'model' : `${g}Id`}` as 'teamId' | 'keyId' | 'userId' | 'model'];
      if (v === undefined) continue;
      params.push(v);
      where.push(
        `${raw && g !== 'model' ? `coalesce(${GROUP_COLUMNS[g]}, '')` : GROUP_COLUMNS[g]} = $${params.length}`,
      );
    }
    const cols: string[] = [];
    if (q.granularity !== 'total')
      cols.push(
        `to_char(date_trunc('${q.granularity}', ${timeCol} AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS period`,
      );
    for (const g of q.groupBy)
      cols.push(
        raw && g !== 'model' ? `coalesce(${GROUP_COLUMNS[g]}, '') AS ${GROUP_COLUMNS[g]}` : GROUP_COLUMNS[g],
      );
    const sums = raw
      ? `count(*) AS requests, count(*) FILTER (WHERE status <> 'ok') AS errors, sum(prompt_tokens) AS prompt_tokens,
         sum(completion_tokens) AS completion_tokens, sum(duration_ms) AS duration_ms,
         coalesce(sum(ttft_ms), 0) AS ttft_ms_sum, count(ttft_ms) AS ttft_count`
      : `sum(requests) AS requests, sum(errors) AS errors, sum(prompt_tokens) AS prompt_tokens,
         sum(completion_tokens) AS completion_tokens, sum(duration_ms) AS duration_ms,
         sum(ttft_ms_sum) AS ttft_ms_sum, sum(ttft_count) AS ttft_count`;
    const keys = cols.map((_, i) => String(i + 1));
    const sql = `SELECT ${[...cols, sums].join(', ')} FROM ${table} WHERE ${where.join(' AND ')}
      ${keys.length ? `GROUP BY ${keys.join(', ')} ORDER BY ${keys.join(', ')}` : ''}`;
    const rows = (await this.ds.query(sql, params)) as Record<string, string | number | null>[];
    return rows.map((r) => {
      const n = (k: string) => Number(r[k] ?? 0);
      const out: UsageRow = {
        requests: n('requests'),
        errors: n('errors'),
        promptTokens: n('prompt_tokens'),
        completionTokens: n('completion_tokens'),
        totalTokens: n('prompt_tokens') + n('completion_tokens'),
        avgDurationMs: n('requests') ? Math.round(n('duration_ms') / n('requests')) : 0,
        avgTtftMs: n('ttft_count') ? Math.round(n('ttft_ms_sum') / n('ttft_count')) : null,
      };
      if (r.period !== undefined) out.period = String(r.period);
      for (const g of q.groupBy) out[FIELD[g]] = String(r[GROUP_COLUMNS[g]] ?? '');
      return out;
    });
  }
}

/** RFC 4180 CSV of usage rows, header first. */
export function usageCsv(rows: UsageRow[], groupBy: readonly string[], withPeriod: boolean): string {
  const cols = [
    ...(withPeriod ? ['period'] : []),
    ...groupBy.map((g) => FIELD[g as keyof typeof FIELD]),
    'requests',
    'errors',
    'promptTokens',
    'completionTokens',
    'totalTokens',
    'avgDurationMs',
    'avgTtftMs',
  ];
  const esc = (v: unknown) => {
    let s = v === null || v === undefined ? '' : String(v);
    // A spreadsheet would run a name starting with = + - @ as a formula (OWASP CSV injection).
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return (
    [
      cols.join(','),
      ...rows.map((r) => cols.map((c) => esc((r as unknown as Record<string, unknown>)[c])).join(',')),
    ].join('\r\n') + '\r\n'
  );
}
