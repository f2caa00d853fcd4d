/**
 * Opens the one database Corral uses: embedded PGlite (with pgvector) in $CORRAL_HOME/db by default,
 * or PostgreSQL when DATABASE_URL is set. Both run the same entities and the same migrations; nothing
 * outside this file knows which one is in use.
 */
import { mkdirSync } from 'node:fs';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import type { CorralConfig } from '@corral/config';
import { pgliteDriverFor } from './pglite-driver';

export interface DatabaseOptions {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities?: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations?: MixedList<Function | string>;
  /** PostgreSQL schema to use (tests give each run its own). Defaults to the server's search path. */
  schema?: string;
  /** Apply pending migrations while opening. Defaults to true. */
  migrate?: boolean;
}

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly dataSource: DataSource;
  /** True when the pgvector extension is available (always on PGlite). */
  readonly hasVector: boolean;
  close(): Promise<void>;
}

export async function openDatabase(
  cfg: CorralConfig['database'],
  opts: DatabaseOptions = {},
): Promise<Database> {
  let dataSource: DataSource;
  if (cfg.kind === 'pglite') {
    mkdirSync(cfg.dataDir, { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    const { vector } = await import('@electric-sql/pglite-pgvector');
    const db = await PGlite.create({ dataDir: cfg.dataDir, extensions: { vector } });
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
    dataSource = new DataSource({
      type: 'postgres',
      driver: pgliteDriverFor(db),
      entities: opts.entities ?? [],
      migrations: opts.migrations ?? [],
      migrationsTableName: 'corral_migrations',
      installExtensions: false,
    });
  } else {
    dataSource = new DataSource({
      type: 'postgres',
      url: cfg.url,
      schema: opts.schema,
      entities: opts.entities ?? [],
      migrations: opts.migrations ?? [],
      migrationsTableName: 'corral_migrations',
      installExtensions: false,
      // public stays on the path: extensions (pgvector's `vector` type) live there.
      extra: opts.schema ? { options: `-c search_path=${opts.schema},public` } : undefined,
    });
  }
  await dataSource.initialize();
  if (opts.schema && cfg.kind === 'postgres') {
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${opts.schema.replace(/"/g, '')}"`);
  }
  const hasVector = await probeVector(dataSource);
  if (opts.migrate !== false) await dataSource.runMigrations({ transaction: 'each' });
  return {
    kind: cfg.kind,
    dataSource,
    hasVector,
    close: () => dataSource.destroy(),
  };
}

async function probeVector(ds: DataSource): Promise<boolean> {
  const rows = (await ds.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`)) as unknown[];
  if (rows.length > 0) return true;
  try {
    await ds.query('CREATE EXTENSION IF NOT EXISTS vector');
    return true;
  } catch {
    // Plain PostgreSQL without pgvector installed: vector features run elsewhere (see docs).
    return false;
  }
}
