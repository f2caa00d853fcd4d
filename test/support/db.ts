/**
 * Test support: a migrated database on PGlite or on PostgreSQL (DATABASE_URL) in a schema of its
 * own that `dispose()` drops. Specs run `describe.each(auditTargets())` so every integration test
 * runs on both engines when DATABASE_URL is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '@corral/persistence';
import { MIGRATIONS } from '../../migrations';

export type Target = 'pglite' | 'postgres';

export function auditTargets(): Target[] {
  if (!process.env.DATABASE_URL) console.log('DATABASE_URL not set: audit tests run on PGlite only');
  return process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export interface TestDb {
  db: Database;
  /** A scratch directory (CORRAL_HOME for the audit log). */
  home: string;
  schema: string;
  dispose(): Promise<void>;
}

let n = 0;

/** `url` overrides DATABASE_URL (the outage test points it at its proxy). */
export async function openTestDb(target: Target, url?: string): Promise<TestDb> {
  const home = mkdtempSync(join(tmpdir(), 'corral-audit-'));
  const schema = `audit_t_${process.pid}_${Date.now()}_${n++}`;
  const cfg =
    target === 'pglite'
      ? { kind: 'pglite' as const, dataDir: join(home, 'db') }
      : { kind: 'postgres' as const, url: url ?? process.env.DATABASE_URL! };
  const db = await openDatabase(cfg, {
    migrations: MIGRATIONS,
    schema: target === 'postgres' ? schema : undefined,
  });
  return {
    db,
    home,
    schema,
    async dispose() {
      if (target === 'postgres') {
        // Drop from a fresh connection so a test that broke its own (outage) still cleans up.
        const admin = await openDatabase(
          { kind: 'postgres', url: process.env.DATABASE_URL! },
          { migrate: false },
        );
        await admin.dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.close();
      }
      await db.close().catch(() => undefined);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Empties every audit table (triggers off for the moment): a fresh log without a fresh database. */
export async function resetAuditTables(t: TestDb): Promise<void> {
  const q = (s: string) => t.db.dataSource.query(s);
  await q(`ALTER TABLE audit_events DISABLE TRIGGER USER`);
  await q(`ALTER TABLE audit_checkpoints DISABLE TRIGGER USER`);
  await q(`TRUNCATE audit_events, audit_checkpoints, audit_exports, audit_content, audit_content_policies`);
  await q(`ALTER TABLE audit_events ENABLE TRIGGER USER`);
  await q(`ALTER TABLE audit_checkpoints ENABLE TRIGGER USER`);
}
