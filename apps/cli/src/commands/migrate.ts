/**
 * `corral migrate up|down|status`: database migrations by hand. The server applies pending
 * migrations at boot; this is for operators who stage upgrades or roll one back. It opens the
 * database itself (PGlite in $CORRAL_HOME/db, or DATABASE_URL), so with the embedded database the
 * server must be stopped first: PGlite admits one process at a time.
 */
import { loadConfig } from '@corral/config';
import { openDatabase } from '@corral/persistence';
import { MIGRATIONS } from '../../../../migrations';

export type MigrateAction = 'up' | 'down' | 'status';

export async function migrateCommand(action: MigrateAction, log: (line: string) => void): Promise<void> {
  const config = loadConfig();
  const db = await openDatabase(config.database, {
    migrations: MIGRATIONS,
    migrate: false,
    schema: config.dbSchema,
  });
  try {
    const ds = db.dataSource;
    switch (action) {
      case 'up': {
        const applied = await ds.runMigrations({ transaction: 'each' });
        log(
          applied.length
            ? applied.map((m) => `applied ${m.name}`).join('\n')
            : 'nothing to apply: up to date',
        );
        break;
      }
      case 'down': {
        const before = await appliedNames(ds);
        await ds.undoLastMigration({ transaction: 'each' });
        const after = await appliedNames(ds);
        const undone = before.filter((n) => !after.includes(n));
        log(undone.length ? `reverted ${undone.join(', ')}` : 'nothing to revert');
        break;
      }
      case 'status': {
        const applied = new Set(await appliedNames(ds));
        for (const m of MIGRATIONS) {
          const name = new (m as new () => { name?: string })().name ?? m.name;
          log(`${applied.has(name) ? 'applied' : 'pending'}  ${name}`);
        }
        break;
      }
    }
  } finally {
    await db.close();
  }
}

async function appliedNames(ds: import('typeorm').DataSource): Promise<string[]> {
  const rows = (await ds.query(`SELECT name FROM corral_migrations ORDER BY id`).catch(() => [])) as {
    name: string;
  }[];
  return rows.map((r) => r.name);
}
