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
import { buildTinyModels, type TinyModels } from './models';
import { startCorral, type CorralProcess } from './server';

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

export interface ClusterSuiteOptions {
  /** mkdtemp prefix of a models directory every process shares (OLLAMA_MODELS in `env`); none without. */
  modelsDir?: string;
  /** mkdtemp prefix of a CORRAL_HOME the gateways share; each its own without. */
  home?: string;
  /** More variables for every worker and gateway (in `env`). */
  env?: NodeJS.ProcessEnv;
  /** A redis-server of the suite's own (`redis`) even where REDIS_URL is set: for a test that restarts it. */
  privateRedis?: boolean;
}

/**
 * What every cluster e2e suite sets up and tears down: Redis (the machine's REDIS_URL, else a private
 * redis-server), this run's key prefix, the tiny models, the directories it made, and the workers and
 * gateways started through it. `start()` in `beforeAll`, `stop()` in `afterAll`: gateways, then
 * workers, then Redis, then the directories.
 */
export class ClusterSuite {
  readonly prefix = clusterPrefix();
  readonly workers: WorkerProcess[] = [];
  readonly gateways: CorralProcess[] = [];
  models!: TinyModels;
  /** The shared models directory ('' without the option). */
  modelsDir = '';
  /** The gateways' shared CORRAL_HOME ('' without the option). */
  home = '';
  /** REDIS_URL, CORRAL_CLUSTER_PREFIX, OLLAMA_MODELS with a shared models directory, and the options' env. */
  env: NodeJS.ProcessEnv = {};
  /** The suite's own redis-server, where it started one. */
  redis?: PrivateRedis;
  private readonly dirs: string[] = [];

  constructor(private readonly options: ClusterSuiteOptions = {}) {}

  async start(): Promise<void> {
    let redisUrl = this.options.privateRedis ? '' : (process.env.REDIS_URL ?? '');
    if (!redisUrl) {
      this.redis = new PrivateRedis();
      await this.redis.start();
      redisUrl = this.redis.url;
    }
    this.models = await buildTinyModels();
    if (this.options.modelsDir) this.modelsDir = this.tmp(this.options.modelsDir);
    if (this.options.home) this.home = this.tmp(this.options.home);
    this.env = {
      REDIS_URL: redisUrl,
      CORRAL_CLUSTER_PREFIX: this.prefix,
      ...(this.modelsDir ? { OLLAMA_MODELS: this.modelsDir } : {}),
      ...this.options.env,
    };
  }

  /** A directory of the suite's, removed by `stop()`. */
  tmp(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  /** `corral worker` with the suite's env and `env`; `stop()` stops it. */
  async worker(env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<WorkerProcess> {
    const w = await startWorker({ ...this.env, ...env }, args);
    this.workers.push(w);
    return w;
  }

  /** `corral serve` with CORRAL_CLUSTER=1, the suite's env and `env`, in the shared home if any. */
  async gateway(env: NodeJS.ProcessEnv = {}): Promise<CorralProcess> {
    const g = await startCorral({ ...this.env, CORRAL_CLUSTER: '1', ...env }, this.home || undefined);
    this.gateways.push(g);
    return g;
  }

  async stop(): Promise<void> {
    await Promise.all(this.gateways.map((g) => g.stop()));
    await Promise.all(this.workers.map((w) => w.stop()));
    await this.redis?.dispose();
    if (this.models) rmSync(this.models.dir, { recursive: true, force: true });
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
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
