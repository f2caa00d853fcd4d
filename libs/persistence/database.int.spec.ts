import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '@corral/persistence';
import { MIGRATIONS } from '../../migrations';

const targets: [string, () => { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string }][] = [
  ['pglite', () => ({ kind: 'pglite', dataDir: mkdtempSync(join(tmpdir(), 'corral-db-')) })],
];
if (process.env.DATABASE_URL)
  targets.push(['postgres', () => ({ kind: 'postgres', url: process.env.DATABASE_URL! })]);
else console.log('DATABASE_URL not set: persistence tests run on PGlite only');

describe.each(targets)('database on %s', (_name, cfgFor) => {
  let db: Database;
  const schema = `t_${process.pid}_${Date.now()}`;
  const cfg = cfgFor();
  beforeAll(async () => {
    db = await openDatabase(cfg, { migrations: MIGRATIONS, schema });
  });
  afterAll(async () => {
    if (cfg.kind === 'postgres') await db.dataSource.query(`DROP SCHEMA "${schema}" CASCADE`);
    await db.close();
    if (cfg.kind === 'pglite') rmSync(cfg.dataDir, { recursive: true, force: true });
  });

  it('applies migrations at open and records them', async () => {
    const rows = (await db.dataSource.query(
      `SELECT value FROM corral_instance WHERE key = 'instance_id'`,
    )) as {
      value: string;
    }[];
    expect(rows[0]?.value).toMatch(/^[0-9a-f]{32}$/);
    expect(await db.dataSource.showMigrations()).toBe(false);
  });

  it('runs transactions without interleaving', async () => {
    await db.dataSource.query('CREATE TABLE IF NOT EXISTS counter (n int)');
    await db.dataSource.query('INSERT INTO counter VALUES (0)');
    await Promise.all(
      Array.from({ length: 10 }, () =>
        db.dataSource.transaction(async (m) => {
          const [row] = (await m.query('SELECT n FROM counter FOR UPDATE')) as { n: number }[];
          await m.query('UPDATE counter SET n = $1', [(row?.n ?? 0) + 1]);
        }),
      ),
    );
    const [row] = (await db.dataSource.query('SELECT n FROM counter')) as { n: number }[];
    expect(row?.n).toBe(10);
  });

  it('rolls back a failed transaction', async () => {
    await expect(
      db.dataSource.transaction(async (m) => {
        await m.query('UPDATE counter SET n = 999');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const [row] = (await db.dataSource.query('SELECT n FROM counter')) as { n: number }[];
    expect(row?.n).toBe(10);
  });

  if (cfg.kind === 'pglite') {
    it('has pgvector', async () => {
      expect(db.hasVector).toBe(true);
      const [r] = (await db.dataSource.query(`SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector AS d`)) as {
        d: number;
      }[];
      expect(Number(r?.d)).toBe(1);
    });
  }
});
