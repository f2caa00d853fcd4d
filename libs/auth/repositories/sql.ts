/** What the repositories share: the query function, keyset pagination and unique-violation mapping. */
import type { DataSource } from 'typeorm';
import { CorralError } from '@corral/common';

export type Query = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * Rows of a statement. TypeORM's postgres driver answers UPDATE/DELETE with `[rows, rowCount]`
 * (PGlite's with the rows alone); this gives the rows either way.
 */
export function queryOf(ds: DataSource): Query {
  return async (sql, params) => {
    const r = (await ds.query(sql, params)) as unknown;
    if (Array.isArray(r) && r.length === 2 && Array.isArray(r[0]) && typeof r[1] === 'number')
      return r[0] as Record<string, unknown>[];
    return r as Record<string, unknown>[];
  };
}

export interface PageRequest {
  /** Opaque cursor from a previous page's `nextCursor`. */
  cursor?: string;
  /** Rows per page. Defaults to 50. */
  limit?: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface Position {
  createdAt: string;
  id: string;
}

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify({ c: createdAt.toISOString(), i: id })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): Position | undefined {
  if (!cursor) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { c?: unknown; i?: unknown };
    if (typeof v.c === 'string' && typeof v.i === 'string' && !Number.isNaN(Date.parse(v.c)))
      return { createdAt: v.c, id: v.i };
  } catch {
    // fall through
  }
  throw new CorralError('bad_request', 'invalid cursor', 'cursor');
}

/**
 * Appends keyset pagination (created_at, id) to a WHERE list and returns the LIMIT to use; one row
 * more than asked tells whether another page exists.
 */
export function pageClause(
  page: PageRequest,
  where: string[],
  params: unknown[],
  alias = '',
  idColumn = 'id',
): { order: string; limit: number } {
  const pos = decodeCursor(page.cursor);
  const p = alias ? `${alias}.` : '';
  // Cursors carry milliseconds (JavaScript dates); PostgreSQL keeps microseconds.
  const at = `date_trunc('milliseconds', ${p}created_at)`;
  if (pos) {
    params.push(pos.createdAt, pos.id);
    where.push(`(${at}, ${p}${idColumn}) > ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  const limit = Math.min(Math.max(page.limit ?? 50, 1), 200);
  return { order: `ORDER BY ${at}, ${p}${idColumn} LIMIT ${limit + 1}`, limit };
}

export function toPage<T extends { createdAt: Date }>(
  rows: T[],
  limit: number,
  idOf: (t: T) => string,
): Page<T> {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items, nextCursor: more && last ? encodeCursor(last.createdAt, idOf(last)) : null };
}

export function whereSql(where: string[]): string {
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

/** PostgreSQL's unique_violation, whichever driver raised it. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: unknown; driverError?: { code?: unknown } } | null;
  return err?.code === '23505' || err?.driverError?.code === '23505';
}

export async function uniqueOr409<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isUniqueViolation(e)) throw new CorralError('conflict', `${what} already exists`);
    throw e;
  }
}
