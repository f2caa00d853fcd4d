/**
 * Reading the log: filters, cursor pagination (newest first) and streamed export (oldest first).
 * A caller's scope limits the rows before any filter: all teams (admins, auditors) or a list of
 * team ids (team owners). Rows map to `AuditEventDto`, the API shape, never to storage columns.
 */
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { rowToEvent } from './audit.repository';

export const AuditQuerySchema = z.object({
  /** ISO timestamps; `from` inclusive, `to` exclusive. */
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  /** Actor id (user or key id). */
  actor: z.string().max(200).optional(),
  actor_type: z.enum(['user', 'key', 'anonymous', 'system']).optional(),
  team: z.string().max(200).optional(),
  /** Exact, or a prefix ending in `*` (`key.*`). */
  action: z.string().max(100).optional(),
  /** Exact, or a prefix ending in `*`. */
  resource: z.string().max(500).optional(),
  /** `success` (< 400), `failure` (>= 400) or one status code. */
  outcome: z.union([z.enum(['success', 'failure']), z.coerce.number().int().min(100).max(999)]).optional(),
  /** Page size. Defaults to 100, at most 1000. */
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(100).optional(),
});
export type AuditQuery = z.input<typeof AuditQuerySchema>;

/** Whose events a caller may read. */
export type AuditScope = { all: true } | { teams: readonly string[] };

export interface AuditEventDto {
  seq: number;
  id: string;
  time: string;
  request_id: string | null;
  actor: { type: string; id: string | null };
  team_id: string | null;
  action: string;
  resource: string | null;
  route: string | null;
  model: string | null;
  outcome: { status: number; error_code: string | null };
  tokens: { prompt: number | null; completion: number | null };
  duration_ms: number | null;
  client_address: string | null;
  user_agent: string | null;
  details: Record<string, unknown> | null;
  hash: string;
}

export interface AuditPage {
  data: AuditEventDto[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

function toDto(r: Record<string, unknown>): AuditEventDto {
  const e = rowToEvent(r);
  return {
    seq: e.seq,
    id: e.id,
    time: e.time,
    request_id: e.requestId,
    actor: { type: e.actorType, id: e.actorId },
    team_id: e.teamId,
    action: e.action,
    resource: e.resource,
    route: e.route,
    model: e.model,
    outcome: { status: e.status, error_code: e.errorCode },
    tokens: { prompt: e.promptTokens, completion: e.completionTokens },
    duration_ms: e.durationMs,
    client_address: e.clientAddress,
    user_agent: e.userAgent,
    details: e.details,
    hash: e.hash,
  };
}

const likePrefix = (v: string) => v.slice(0, -1).replace(/[\\%_]/g, (c) => '\\' + c) + '%';

function where(q: z.output<typeof AuditQuerySchema>, scope: AuditScope, params: unknown[]): string[] {
  const w: string[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if (!('all' in scope))
    w.push(scope.teams.length ? `team_id IN (${scope.teams.map(p).join(',')})` : 'false');
  if (q.from) w.push(`time >= ${p(q.from)}`);
  if (q.to) w.push(`time < ${p(q.to)}`);
  if (q.actor) w.push(`actor_id = ${p(q.actor)}`);
  if (q.actor_type) w.push(`actor_type = ${p(q.actor_type)}`);
  if (q.team) w.push(`team_id = ${p(q.team)}`);
  for (const [col, v] of [
    ['action', q.action],
    ['resource', q.resource],
  ] as const) {
    if (!v) continue;
    w.push(v.endsWith('*') ? `${col} LIKE ${p(likePrefix(v))}` : `${col} = ${p(v)}`);
  }
  if (q.outcome === 'success') w.push('status < 400');
  else if (q.outcome === 'failure') w.push('status >= 400');
  else if (typeof q.outcome === 'number') w.push(`status = ${p(q.outcome)}`);
  return w;
}

const encodeCursor = (seq: number) => Buffer.from(JSON.stringify({ s: seq })).toString('base64url');
function decodeCursor(c: string): number {
  try {
    const s = (JSON.parse(Buffer.from(c, 'base64url').toString()) as { s?: unknown }).s;
    if (typeof s === 'number' && Number.isInteger(s)) return s;
  } catch {
    // fall through
  }
  throw new Error('invalid cursor');
}

/** One page, newest first. Throws `Error('invalid cursor')` for a cursor it did not issue. */
export async function searchAuditEvents(
  ds: DataSource,
  query: AuditQuery,
  scope: AuditScope,
): Promise<AuditPage> {
  const q = AuditQuerySchema.parse(query);
  const params: unknown[] = [];
  const w = where(q, scope, params);
  if (q.cursor) {
    params.push(decodeCursor(q.cursor));
    w.push(`seq < $${params.length}`);
  }
  params.push(q.limit + 1);
  const rows = (await ds.query(
    `SELECT * FROM audit_events ${w.length ? 'WHERE ' + w.join(' AND ') : ''} ORDER BY seq DESC LIMIT $${params.length}`,
    params,
  )) as Record<string, unknown>[];
  const events = rows.slice(0, q.limit).map(toDto);
  const last = events[events.length - 1];
  return { data: events, next_cursor: rows.length > q.limit && last ? encodeCursor(last.seq) : null };
}

/** Every matching event, oldest first, fetched a page at a time (for streamed exports). */
export async function* exportAuditEvents(
  ds: DataSource,
  query: AuditQuery,
  scope: AuditScope,
): AsyncGenerator<AuditEventDto> {
  const q = AuditQuerySchema.parse({ ...query, limit: 1000, cursor: undefined });
  for (let after = 0; ;) {
    const params: unknown[] = [];
    const w = where(q, scope, params);
    params.push(after);
    w.push(`seq > $${params.length}`);
    const rows = (await ds.query(
      `SELECT * FROM audit_events WHERE ${w.join(' AND ')} ORDER BY seq LIMIT 1000`,
      params,
    )) as Record<string, unknown>[];
    if (rows.length === 0) return;
    for (const r of rows) yield toDto(r);
    after = Number(rows[rows.length - 1]!.seq);
  }
}

export const CSV_COLUMNS = [
  'seq',
  'id',
  'time',
  'request_id',
  'actor_type',
  'actor_id',
  'team_id',
  'action',
  'resource',
  'route',
  'model',
  'status',
  'error_code',
  'prompt_tokens',
  'completion_tokens',
  'duration_ms',
  'client_address',
  'user_agent',
  'details',
  'hash',
] as const;

const csvCell = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  // Quote always-risky cells; a leading = + - @ is neutralised so spreadsheets do not run it.
  const safe = /^[=+\-@\t\r]/.test(s) ? "'" + s : s;
  return /[",\n\r]/.test(safe) || safe !== s ? '"' + safe.replace(/"/g, '""') + '"' : safe;
};

export const csvHeader = () => CSV_COLUMNS.join(',') + '\r\n';

export function csvRow(e: AuditEventDto): string {
  const flat: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    seq: e.seq,
    id: e.id,
    time: e.time,
    request_id: e.request_id,
    actor_type: e.actor.type,
    actor_id: e.actor.id,
    team_id: e.team_id,
    action: e.action,
    resource: e.resource,
    route: e.route,
    model: e.model,
    status: e.outcome.status,
    error_code: e.outcome.error_code,
    prompt_tokens: e.tokens.prompt,
    completion_tokens: e.tokens.completion,
    duration_ms: e.duration_ms,
    client_address: e.client_address,
    user_agent: e.user_agent,
    details: e.details,
    hash: e.hash,
  };
  return CSV_COLUMNS.map((c) => csvCell(flat[c])).join(',') + '\r\n';
}
