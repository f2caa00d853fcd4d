/**
 * The forked worker loads the job protocol and node-llama-cpp, never the gateway: no scheduler
 * (libs/dispatch), no NestJS, no Fastify. Checked on the built entry (`npm run build`), as a user
 * runs it: forked with IPC, every loaded module listed at exit.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './testing';

const ENTRY = join(ROOT, 'dist/apps/worker/src/main.js');

(existsSync(ENTRY) ? describe : describe.skip)('worker module graph', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'corral-graph-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads neither the scheduler nor NestJS nor Fastify', async () => {
    const out = join(dir, 'modules.json');
    const preload = join(dir, 'preload.js');
    writeFileSync(
      preload,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`,
    );
    const child = fork(ENTRY, [], {
      env: { ...process.env, CORRAL_GPU: 'cpu' },
      execArgv: ['--require', preload],
      serialization: 'advanced',
      stdio: 'pipe',
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker sent no hello')), 60_000);
      child.on('message', (m: { type?: string }) => {
        if (m?.type === 'hello') child.send({ type: 'shutdown' });
      });
      child.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const modules = JSON.parse(readFileSync(out, 'utf8')) as string[];
    expect(modules.some((f) => f.includes('/libs/worker-protocol/'))).toBe(true);
    expect(modules.some((f) => f.includes('/libs/inference/'))).toBe(true);
    expect(modules.filter((f) => f.includes('/libs/dispatch/'))).toEqual([]);
    expect(modules.filter((f) => f.includes('/node_modules/@nestjs/'))).toEqual([]);
    expect(modules.filter((f) => /\/node_modules\/(fastify|typeorm)\//.test(f))).toEqual([]);
  });
});
