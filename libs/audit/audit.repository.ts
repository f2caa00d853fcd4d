/**
 * All audit SQL that writes or walks the chain. Rows map to `AuditEvent` here and nowhere else, with
 * the same normalisation on PGlite and PostgreSQL (int8 as string or bigint, timestamptz as Date).
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { AuditEvent, ActorType } from './event';
import type { PendingContent } from './audit-buffer';

export type Sql = Pick<EntityManager, 'query'> | Pick<DataSource, 'query'>;

export interface EventRow extends AuditEvent {
  prevHash: string;
  hash: string;
}

export interface CheckpointRow {
  seq: number;
  hash: string;
  time: string;
  keyId: string;
  signature: string;
}

/** Any advisory-lock key unique to the audit appender ("CORRAUDT" in ASCII, as int8). */
const APPEND_LOCK = '4850170917549868116';

const COLUMNS = `seq, event_id, time, request_id, actor_type, actor_id, team_id, action, resource, route, model,
  status, error_code, prompt_tokens, completion_tokens, duration_ms, client_address, user_agent, details,
  prev_hash, hash`;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const iso = (v: unknown): string => new Date(v as string | Date).toISOString();

export function rowToEvent(r: Record<string, unknown>): EventRow {
  let details = r.details as unknown;
  if (typeof details === 'string') details = JSON.parse(details) as unknown;
  return {
    seq: Number(r.seq),
    id: String(r.event_id),
    time: iso(r.time),
    requestId: str(r.request_id),
    actorType: String(r.actor_type) as ActorType,
    actorId: str(r.actor_id),
    teamId: str(r.team_id),
    action: String(r.action),
    resource: str(r.resource),
    route: str(r.route),
    model: str(r.model),
    status: Number(r.status),
    errorCode: str(r.error_code),
    promptTokens: num(r.prompt_tokens),
    completionTokens: num(r.completion_tokens),
    durationMs: num(r.duration_ms),
    clientAddress: str(r.client_address),
    userAgent: str(r.user_agent),
    details: (details as Record<string, unknown> | null) ?? null,
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

const rowToCheckpoint = (r: Record<string, unknown>): CheckpointRow => ({
  seq: Number(r.seq),
  hash: String(r.hash),
  time: iso(r.time),
  keyId: String(r.key_id),
  signature: String(r.signature),
});

type Rows = Record<string, unknown>[];

export const auditSql = {
  /** Serialises appenders for the rest of the transaction (belt to the leader lock's braces). */
  async lockAppend(m: Sql): Promise<void> {
    await m.query(`SELECT pg_advisory_xact_lock(${APPEND_LOCK})`);
  },

  /** The chain head: the last event, else the last checkpoint (everything pruned), else none. */
  async head(m: Sql): Promise<{ seq: number; hash: string } | undefined> {
    const [e] = (await m.query(`SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`)) as Rows;
    if (e) return { seq: Number(e.seq), hash: String(e.hash) };
    const cp = await auditSql.lastCheckpoint(m);
    return cp ? { seq: cp.seq, hash: cp.hash } : undefined;
  },

  async existingIds(m: Sql, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const marks = ids.map((_, i) => `$${i + 1}`).join(',');
    const rows = (await m.query(
      `SELECT event_id FROM audit_events WHERE event_id IN (${marks})`,
      ids,
    )) as Rows;
    return new Set(rows.map((r) => String(r.event_id)));
  },

  async insertEvents(m: Sql, rows: EventRow[]): Promise<void> {
    const width = 21;
    for (let i = 0; i < rows.length; i += 200) {
      const chunk = rows.slice(i, i + 200);
      const params: unknown[] = [];
      const tuples = chunk.map((e, j) => {
        params.push(
          e.seq,
          e.id,
          e.time,
          e.requestId,
          e.actorType,
          e.actorId,
          e.teamId,
          e.action,
          e.resource,
          e.route,
          e.model,
          e.status,
          e.errorCode,
          e.promptTokens,
          e.completionTokens,
          e.durationMs,
          e.clientAddress,
          e.userAgent,
          e.details === null ? null : JSON.stringify(e.details),
          e.prevHash,
          e.hash,
        );
        return '(' + Array.from({ length: width }, (_, k) => `$${j * width + k + 1}`).join(',') + ')';
      });
      await m.query(`INSERT INTO audit_events (${COLUMNS}) VALUES ${tuples.join(',')}`, params);
    }
  },

  async insertContent(m: Sql, items: PendingContent[]): Promise<void> {
    for (const c of items) {
      await m.query(
        `INSERT INTO audit_content (event_id, team_id, time, expires_at, prompt, response, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING`,
        [
          c.eventId,
          c.teamId,
          c.time,
          c.expiresAt,
          JSON.stringify(c.prompt ?? null),
          JSON.stringify(c.response ?? null),
          c.requestId ?? null,
        ],
      );
    }
  },

  async lastCheckpoint(m: Sql): Promise<CheckpointRow | undefined> {
    const [r] = (await m.query(`SELECT * FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`)) as Rows;
    return r ? rowToCheckpoint(r) : undefined;
  },

  async firstEventTime(m: Sql, afterSeq: number): Promise<string | undefined> {
    const [r] = (await m.query(`SELECT time FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT 1`, [
      afterSeq,
    ])) as Rows;
    return r ? iso(r.time) : undefined;
  },

  async insertCheckpoint(m: Sql, c: CheckpointRow): Promise<void> {
    await m.query(
      `INSERT INTO audit_checkpoints (seq, hash, time, key_id, signature) VALUES ($1,$2,$3,$4,$5)`,
      [c.seq, c.hash, c.time, c.keyId, c.signature],
    );
  },

  async checkpoints(m: Sql): Promise<CheckpointRow[]> {
    return ((await m.query(`SELECT * FROM audit_checkpoints ORDER BY seq`)) as Rows).map(rowToCheckpoint);
  },

  /** Events with seq > afterSeq (and <= uptoSeq when given), in order. */
  async page(m: Sql, afterSeq: number, limit: number, uptoSeq?: number): Promise<EventRow[]> {
    const rows = (await m.query(
      `SELECT ${COLUMNS} FROM audit_events WHERE seq > $1 AND ($2::bigint IS NULL OR seq <= $2::bigint)
       ORDER BY seq LIMIT $3`,
      [afterSeq, uptoSeq ?? null, limit],
    )) as Rows;
    return rows.map(rowToEvent);
  },

  async seqOfHash(m: Sql, hash: string): Promise<number | undefined> {
    const [r] = (await m.query(`SELECT seq FROM audit_events WHERE hash = $1 LIMIT 1`, [hash])) as Rows;
    return r ? Number(r.seq) : undefined;
  },

  /** The highest seq an export file holds (0 when nothing was exported). */
  async exportedUpTo(m: Sql): Promise<number> {
    const [r] = (await m.query(`SELECT max(last_seq) AS l FROM audit_exports`)) as Rows;
    return num(r?.l) ?? 0;
  },

  async bounds(m: Sql): Promise<{ first?: number; last?: number; count: number }> {
    const [r] = (await m.query(
      `SELECT min(seq) AS f, max(seq) AS l, count(*) AS c FROM audit_events`,
    )) as Rows;
    return { first: num(r?.f) ?? undefined, last: num(r?.l) ?? undefined, count: Number(r?.c ?? 0) };
  },
};
