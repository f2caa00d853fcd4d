/**
 * Test support for the worker entry's specs: compiles the entry and what it loads the way
 * `npm run build` does (swc with the repo's .swcrc), into a git-ignored folder inside the repo so the
 * compiled files resolve node_modules as dist/ does.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');

/** The libs the worker entry may load; the module-graph spec checks it loads no others. */
export const WORKER_SOURCES = [
  'apps/worker/src',
  'libs/inference',
  'libs/worker-protocol',
  'libs/common',
  'libs/config',
];

/** Compiles the worker into `.corral-test/<name>`; returns the entry's path. */
export function buildWorker(name: string): { outDir: string; entry: string } {
  const outDir = path.join(ROOT, '.corral-test', name);
  rmSync(outDir, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/@swc/cli/bin/swc.js'),
      ...WORKER_SOURCES,
      '-d',
      outDir,
      '--config-file',
      '.swcrc',
      '--ignore',
      '**/*.spec.ts',
      '--quiet',
    ],
    { cwd: ROOT, stdio: 'pipe' },
  );
  return { outDir, entry: path.join(outDir, 'apps/worker/src/main.js') };
}
