/**
 * Retention: deletes whole old segments only. A segment ends at a signed checkpoint; everything up
 * to the newest checkpoint older than the cut-off is first written to an NDJSON export file
 * (fsync'd, then recorded with its sha256 in audit_exports), and only then does the database
 * function `audit_prune_segment` (the one path past the append-only trigger) delete it. The first
 * remaining event links to that checkpoint's signed hash, so `verify` still passes.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { purgeExpiredContent } from './content';
import { fsyncDir } from '@corral/durable';
import { auditSql } from './audit.repository';

export interface RetentionOptions {
  /** Events older than this may go (whole segments only). */
  before: Date;
  /** Where export files are written (e.g. `$CORRAL_HOME/audit-archive`). */
  exportDir: string;
}

export interface RetentionResult {
  /** Events deleted from the database. */
  pruned: number;
  /** The export file holding them. */
  file?: string;
  firstSeq?: number;
  lastSeq?: number;
  /** Captured-content rows past their own retention, deleted too. */
  contentPurged: number;
}

type Rows = Record<string, unknown>[];

export async function applyRetention(ds: DataSource, o: RetentionOptions): Promise<RetentionResult> {
  const contentPurged = await purgeExpiredContent(ds);
  const [c] = (await ds.query(
    `SELECT max(c.seq) AS seq FROM audit_checkpoints c JOIN audit_events e ON e.seq = c.seq WHERE e.time < $1`,
    [o.before.toISOString()],
  )) as Rows;
  const upto = c?.seq === null || c?.seq === undefined ? undefined : Number(c.seq);
  const { first } = await auditSql.bounds(ds);
  if (upto === undefined || first === undefined || upto < first) return { pruned: 0, contentPurged };

  mkdirSync(o.exportDir, { recursive: true, mode: 0o700 });
  const name = `audit-${String(first).padStart(12, '0')}-${String(upto).padStart(12, '0')}.ndjson`;
  const file = join(o.exportDir, name);
  const tmp = file + '.partial';
  const hash = createHash('sha256');
  const fd = openSync(tmp, 'w', 0o600);
  try {
    const write = (obj: unknown) => {
      const line = JSON.stringify(obj) + '\n';
      hash.update(line);
      writeSync(fd, line);
    };
    for (const cp of await auditSql.checkpoints(ds)) {
      if (cp.seq >= first - 1 && cp.seq <= upto) write({ type: 'checkpoint', ...cp });
    }
    for (let after = first - 1; ;) {
      const page = await auditSql.page(ds, after, 1000, upto);
      if (page.length === 0) break;
      for (const e of page) write({ type: 'event', ...e });
      after = page[page.length - 1]!.seq;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(o.exportDir);
  const pruned = await ds.transaction(async (m) => {
    await m.query(`INSERT INTO audit_exports (last_seq, first_seq, file, sha256) VALUES ($1, $2, $3, $4)`, [
      upto,
      first,
      file,
      hash.digest('hex'),
    ]);
    const [r] = (await m.query(`SELECT audit_prune_segment($1) AS n`, [upto])) as Rows;
    return Number(r?.n ?? 0);
  });
  return { pruned, file, firstSeq: first, lastSeq: upto, contentPurged };
}
