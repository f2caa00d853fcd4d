// Compiles every TypeScript source with swc (fast, no type check: `npm run typecheck` does that)
// into dist/, keeping the folder layout so dist/apps/cli/main.js is the CLI entry.
import { execFileSync } from 'node:child_process';
import { rmSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
const dirs = ['apps', 'libs', 'migrations', 'bench', 'test/support'].filter((d) => existsSync(join(root, d)));
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules/@swc/cli/bin/swc.js'),
    ...dirs,
    '-d',
    'dist',
    '--config-file',
    '.swcrc',
    '--ignore',
    '**/*.spec.ts,**/*.e2e.ts,apps/web/**',
    '--copy-files',
    '--quiet',
  ],
  { cwd: root, stdio: 'inherit' },
);

// The native decode loop (optional: without a compiler Corral uses its JavaScript loop).
execFileSync(process.execPath, [join(root, 'scripts/build-native.mjs')], { cwd: root, stdio: 'inherit' });
