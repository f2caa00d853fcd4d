import { markdownTable } from './report';

type Row = Record<string, string | number>;

/**
 * Lets a benchmark module also run on its own (`node dist/bench/<name>.js`): runs it, prints its
 * table, and exits non-zero with the stack when it fails. `npm run bench` imports `run()` instead.
 */
export function runStandalone(mod: NodeJS.Module, run: () => Promise<{ title: string; rows: Row[] }>): void {
  if (require.main !== mod) return;
  run().then(
    (r) => {
      console.log(`### ${r.title}\n\n${markdownTable(r.rows)}`);
      process.exit(0);
    },
    (e: Error) => {
      console.error(e.stack ?? e.message);
      process.exit(1);
    },
  );
}
