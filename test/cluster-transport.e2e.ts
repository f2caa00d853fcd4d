/**
 * The transport contract: the scheduler over the embedded transport (a forked worker, Node IPC) and
 * over the cluster transport (BullMQ queue + Redis Streams + pub/sub cancel, a `corral worker`
 * process) behaves the same for what a caller sees. Real workers, the tiny generated models.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { type GenerationEvent } from '@corral/worker-protocol';
import { ChildProcessWorkerLink, Scheduler, WorkerPool, type RunTarget } from '@corral/dispatch';
import { ClusterPlacement, ClusterPool } from '@corral/cluster';
import { SCRIPT_TEXT, buildTinyModels, type TinyModels } from '@corral/testing';
import {
  PrivateRedis,
  clusterPrefix,
  hasRedisServer,
  startWorker,
  type WorkerProcess,
} from './support/cluster';

jest.setTimeout(120_000);

interface Harness {
  scheduler: Scheduler;
  /** SIGKILLs the worker under the scheduler. */
  killWorker(): void;
  close(): Promise<void>;
}

type Make = (modelsDir: string) => Promise<Harness>;

const SCHEDULER_OPTS = { maxLoadedModels: 3, maxQueue: 16, loadTimeoutMs: 60_000 };

const embedded: Make = async () => {
  const pool = new WorkerPool({ count: 1, env: { CORRAL_THREADS: '1', CORRAL_GPU: 'cpu' } });
  const scheduler = new Scheduler(pool, SCHEDULER_OPTS);
  pool.start();
  await pool.waitReady(60_000);
  return {
    scheduler,
    killWorker: () => process.kill((pool.workers()[0] as ChildProcessWorkerLink).pid!, 'SIGKILL'),
    close: () => pool.close(),
  };
};

let privateRedis: PrivateRedis | undefined;

const cluster: Make = async (modelsDir) => {
  let url = process.env.REDIS_URL;
  if (!url) {
    privateRedis ??= new PrivateRedis();
    if (!privateRedis.port) await privateRedis.start();
    url = privateRedis.url;
  }
  const prefix = clusterPrefix();
  const worker: WorkerProcess = await startWorker({
    REDIS_URL: url,
    CORRAL_CLUSTER_PREFIX: prefix,
    OLLAMA_MODELS: modelsDir,
  });
  const pool = new ClusterPool({ redisUrl: url, prefix });
  const scheduler = new Scheduler(pool, {
    ...SCHEDULER_OPTS,
    placement: new ClusterPlacement(pool),
    redispatch: true,
  });
  pool.start();
  await pool.waitReady(30_000);
  return {
    scheduler,
    killWorker: () => worker.kill(),
    close: async () => {
      await pool.close();
      await worker.stop();
    },
  };
};

const transports: [string, Make][] = [['embedded', embedded]];
if (process.env.REDIS_URL || hasRedisServer()) transports.push(['bullmq', cluster]);
else console.log('cluster-transport.e2e: BullMQ transport skipped (neither REDIS_URL nor redis-server)');

afterAll(async () => {
  await privateRedis?.dispose();
});

/** Puts a file into an Ollama-layout blob store, as the registry would. */
function blob(modelsDir: string, file: string | Buffer): string {
  const data = typeof file === 'string' ? readFileSync(file) : file;
  const hex = createHash('sha256').update(data).digest('hex');
  const path = join(modelsDir, 'blobs', `sha256-${hex}`);
  if (typeof file === 'string') copyFileSync(file, path);
  else writeFileSync(path, data);
  return path;
}

function target(name: string, path: string): RunTarget {
  return {
    name,
    info: { digest: `sha256:${name}`, size: 0, details: {} },
    spec: { path, numCtx: 256, numParallel: 2 },
    keepAliveMs: 60_000,
  };
}

async function collect(it: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

describe.each(transports)('%s transport', (_name, make) => {
  let models: TinyModels;
  let modelsDir: string;
  let h: Harness;
  let scripted: RunTarget;
  let random: RunTarget;
  let broken: RunTarget;

  beforeAll(async () => {
    models = await buildTinyModels();
    modelsDir = mkdtempSync(join(tmpdir(), 'corral-contract-'));
    mkdirSync(join(modelsDir, 'blobs'));
    scripted = target('scripted', blob(modelsDir, models.scripted));
    random = target('random', blob(modelsDir, models.random));
    broken = target('broken', blob(modelsDir, Buffer.from('GGUF but not really a model file')));
    h = await make(modelsDir);
  });

  afterAll(async () => {
    await h?.close();
    rmSync(modelsDir, { recursive: true, force: true });
    rmSync(models.dir, { recursive: true, force: true });
  });

  it('streams the tokens of a generation, then done', async () => {
    const events = await collect(
      h.scheduler.generate({
        ...scripted,
        prompt: { kind: 'text', text: 'hi', addBos: true },
        sampling: { temperature: 0 },
      }),
    );
    const chunks = events.filter((e) => e.type === 'chunk');
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.map((c) => c.text).join('')).toBe(SCRIPT_TEXT);
    expect(events.at(-1)).toMatchObject({ type: 'done', doneReason: 'stop' });
  });

  it('a cancelled generation stops at once and says so', async () => {
    const abort = new AbortController();
    const events: GenerationEvent[] = [];
    for await (const ev of h.scheduler.generate({
      ...random,
      prompt: { kind: 'text', text: 'go', addBos: true },
      sampling: { temperature: 1, numPredict: 200_000 },
      signal: abort.signal,
    })) {
      events.push(ev);
      if (events.length === 1) abort.abort();
    }
    const done = events.at(-1);
    expect(done).toMatchObject({ type: 'done', doneReason: 'cancelled' });
    expect(done?.type === 'done' && done.completionTokens).toBeLessThan(2000);
  });

  it('embeds', async () => {
    const res = await h.scheduler.embed({ ...random, inputs: ['one', 'two'], truncate: true });
    expect(res.vectors).toHaveLength(2);
    expect(res.vectors[0]!.length).toBeGreaterThan(0);
    expect(res.vectors.flat().every(Number.isFinite)).toBe(true);
    expect(res.promptTokens).toBeGreaterThan(0);
  });

  it('a model that cannot load fails the request with the reason', async () => {
    const run = collect(
      h.scheduler.generate({ ...broken, prompt: { kind: 'text', text: 'x', addBos: true }, sampling: {} }),
    );
    await expect(run).rejects.toThrow(CorralError);
    await expect(run).rejects.toMatchObject({ code: 'model_load_failed', message: /broken/ });
  });

  it('a worker crash ends a streaming request with a clear error', async () => {
    const events: GenerationEvent[] = [];
    const run = (async () => {
      for await (const ev of h.scheduler.generate({
        ...random,
        prompt: { kind: 'text', text: 'go', addBos: true },
        sampling: { temperature: 1, numPredict: 1_000_000 },
      })) {
        events.push(ev);
        if (events.length === 1) h.killWorker();
      }
    })();
    await expect(run).rejects.toMatchObject({ code: 'worker_failed', message: /worker/ });
    expect(events.length).toBeGreaterThan(0);
  });
});
