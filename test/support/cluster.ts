/**
 * Cluster processes for e2e tests: `corral worker` as a child process (the way an operator starts one
 * on a GPU host), a private redis-server the test may stop and restart, and a unique key prefix per
 * test run so parallel runs on the machine's Redis never see each other.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { postJson } from './http';
import type { CorralProcess } from './server';

/** The built CLI, found from the repository root (this file also runs from dist/, for bench/). */
const CLI_ENTRY = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return join(dir, 'dist/apps/cli/src/main.js');
})();

export function clusterPrefix(): string {
  return `corral-test-${randomBytes(4).toString('hex')}`;
}

export interface WorkerProcess {
  id: string;
  proc: ChildProcess;
  output(): string;
  /** SIGKILL: the worker vanishes without saying goodbye. */
  kill(): void;
  stop(): Promise<void>;
}

export async function startWorker(env: NodeJS.ProcessEnv, args: string[] = []): Promise<WorkerProcess> {
  const proc = spawn(process.execPath, [CLI_ENTRY, 'worker', ...args], {
    env: {
      ...process.env,
      CORRAL_THREADS: '1',
      CORRAL_GPU: 'cpu',
      CORRAL_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const id = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start in time:\n${out}`)), 90_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /corral worker (\S+) ready/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before it was ready:\n${out}`));
    });
  });
  return {
    id,
    proc,
    output: () => out,
    kill: () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

/** A redis-server of the test's own (never the machine's shared one), which it may restart. */
export class PrivateRedis {
  private proc?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'corral-redis-'));
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
      proc.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${out}`));
      });
    });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Cluster e2e suites need Redis: the machine's (REDIS_URL) or a redis-server binary to start one. */
export const clusterCanRun = Boolean(process.env.REDIS_URL) || hasRedisServer();

/** `describe` for a cluster e2e file, or `describe.skip` with a message saying why. */
export function clusterDescribe(file: string): jest.Describe {
  if (clusterCanRun) return describe;
  console.log(`${file}: skipped (neither REDIS_URL nor a redis-server binary)`);
  return describe.skip;
}

/** Polls `fn` every 250 ms until it returns a value (errors count as "not yet"); names the last error on timeout. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A worker as GET /admin/v1/workers reports it (the fields the tests read). */
export interface WorkerJson {
  id: string;
  memory_bytes: number;
  used_bytes: number;
  jobs: number;
  models: { name: string; active: number; queued: number; holders: string[] }[];
}

export async function workersOf(g: CorralProcess): Promise<WorkerJson[]> {
  const res = await postJson(`${g.url}/admin/v1/workers`, undefined, 'GET');
  if (res.status !== 200) throw new Error(`admin/v1/workers: ${res.status} ${res.text}`);
  return (res.json as { workers: WorkerJson[] }).workers;
}

/** Ids of the workers holding a model, by their heartbeats. */
export async function holders(g: CorralProcess, model: string): Promise<string[]> {
  return (await workersOf(g)).filter((w) => w.models.some((m) => m.name === model)).map((w) => w.id);
}
