/**
 * The README's promise, as a user types it: `corral create tiny -f Modelfile`, then
 * `corral run tiny "hello"`, plus the other verbs, against a real server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SCRIPT_TEXT,
  runCli,
  startWithTinyModels,
  type CorralProcess,
  type TinyModels,
  type TinyServer,
} from '@corral/testing';

jest.setTimeout(180_000);

let server: TinyServer | undefined;
let corral: CorralProcess;
let models: TinyModels;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  server = await startWithTinyModels();
  ({ corral, models } = server);
  env = { CORRAL_HOST: corral.url, CORRAL_HOME: corral.home };
});
afterAll(() => server?.stop());

it('creates a model from a Modelfile and answers a one-shot prompt', async () => {
  const modelfile = join(models.dir, 'Modelfile');
  writeFileSync(modelfile, `FROM ./scripted.gguf\nPARAMETER temperature 0.2\nSYSTEM """You are terse."""\n`);
  const created = await runCli(['create', 'tiny', '-f', modelfile], env);
  expect(created.stderr + created.stdout).toMatch(/success/);
  expect(created.code).toBe(0);

  const run = await runCli(['run', 'tiny', 'hello'], env);
  expect(run.code).toBe(0);
  expect(run.stdout.trim()).toBe(SCRIPT_TEXT);

  const piped = await runCli(['run', 'tiny'], env, 'hello from stdin\n');
  expect(piped.stdout.trim()).toBe(SCRIPT_TEXT);
});

it('lists, shows, copies, stops and removes', async () => {
  const list = await runCli(['list'], env);
  expect(list.stdout).toMatch(/^NAME\s+ID\s+SIZE\s+MODIFIED/m);
  expect(list.stdout).toMatch(/^tiny:latest\s+[0-9a-f]{12}\s/m);

  const show = await runCli(['show', 'tiny'], env);
  expect(show.stdout).toMatch(/architecture\s+llama/);
  const params = await runCli(['show', 'tiny', '--parameters'], env);
  expect(params.stdout).toMatch(/temperature\s+0\.2/);
  const system = await runCli(['show', 'tiny', '--system'], env);
  expect(system.stdout.trim()).toBe('You are terse.');

  expect((await runCli(['cp', 'tiny', 'tiny2'], env)).code).toBe(0);
  expect((await runCli(['list'], env)).stdout).toMatch(/^tiny2:latest/m);

  const ps = await runCli(['ps'], env);
  expect(ps.stdout).toMatch(/^tiny:latest\s/m);
  expect((await runCli(['stop', 'tiny'], env)).code).toBe(0);
  expect((await runCli(['ps'], env)).stdout).not.toMatch(/^tiny:latest\s/m);

  const rm = await runCli(['rm', 'tiny2'], env);
  expect(rm.stdout).toMatch(/deleted 'tiny2'/);
});

it('reports errors plainly', async () => {
  const r = await runCli(['run', 'missing', 'hi'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/Error: .*model 'missing' not found/);
  const down = await runCli(['list'], { CORRAL_HOST: '127.0.0.1:1' });
  expect(down.code).toBe(1);
  expect(down.stderr).toMatch(/could not connect/);
});

it('applies, lists and reverts database migrations by hand (corral migrate)', async () => {
  // Its own data directory: the embedded database admits one process at a time.
  const home = mkdtempSync(join(tmpdir(), 'corral-migrate-'));
  const menv = { CORRAL_HOME: home, DATABASE_URL: '' };
  try {
    const before = await runCli(['migrate', 'status'], menv);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/^pending\s+Init\d+$/m);
    expect(before.stdout).not.toMatch(/^applied/m);
    const up = await runCli(['migrate', 'up'], menv);
    expect(up.stdout).toMatch(/^applied Init\d+$/m);
    const again = await runCli(['migrate', 'up'], menv);
    expect(again.stdout).toMatch(/nothing to apply/);
    const down = await runCli(['migrate', 'down'], menv);
    expect(down.stdout).toMatch(/^reverted \w+\d+$/m);
    const after = await runCli(['migrate', 'status'], menv);
    expect(after.stdout).toMatch(/^applied\s+Init\d+$/m);
    expect(after.stdout.match(/^pending/gm)).toHaveLength(1);
    const bad = await runCli(['migrate', 'sideways'], menv);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown migrate action 'sideways'/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
