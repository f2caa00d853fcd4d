/**
 * Cluster mode against embedded mode on the same machine: time to first token and aggregate
 * tokens/s for 1, 4 and 16 concurrent streams through (a) the embedded gateway (one forked worker),
 * (b) a cluster gateway with one `corral worker`, (c) a cluster gateway with two workers
 * (CORRAL_PLACEMENT=spread). Rounds are interleaved (contender × concurrency, repeated) so machine
 * noise lands on every contender alike.
 *
 * Two model instances are served (the same generated weights under two context sizes, so they are
 * two instances): streams alternate between them, which lets the two-worker cluster put one
 * instance on each worker. Every contender serves the same two.
 *
 * Standalone: `npm run build && node dist/bench/cluster.js`. Knobs: REDIS_URL (else a private
 * redis-server is started), CORRAL_BENCH_QUICK=1 (2 repetitions instead of 5),
 * CORRAL_BENCH_CLUSTER_TOKENS (tokens per stream, default 64).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corralGenerate, type StreamTiming } from './support/clients';
import { importModel, startCorral, type CorralServer } from './support/corral';
import { overheadModel } from './support/models';
import { fmt, summarize } from './support/stats';
import { runStandalone } from './support/standalone';
import {
  PrivateRedis,
  clusterPrefix,
  hasRedisServer,
  startWorker,
  type WorkerProcess,
} from '../test/support/cluster';

type Row = Record<string, string | number>;

const TOKENS = Number(process.env.CORRAL_BENCH_CLUSTER_TOKENS ?? 64);
const REPS = process.env.CORRAL_BENCH_QUICK ? 2 : 5;
const CONCURRENCY = [1, 4, 16];
const MODELS = ['bench-a', 'bench-b'];
const log = (line: string) => process.stderr.write(`[bench:cluster] ${line}\n`);

interface Contender {
  name: string;
  server: CorralServer;
  workers: WorkerProcess[];
  modelsDir?: string;
}

async function round(server: CorralServer, streams: number): Promise<{ ttft: number[]; tokS: number }> {
  const t0 = performance.now();
  const results: StreamTiming[] = await Promise.all(
    Array.from({ length: streams }, (_, i) =>
      corralGenerate(server, MODELS[i % MODELS.length]!, { prompt: `stream ${i}`, maxTokens: TOKENS }),
    ),
  );
  const wallS = (performance.now() - t0) / 1000;
  const tokens = results.reduce((n, r) => n + r.tokens, 0);
  return { ttft: results.map((r) => r.ttftMs), tokS: tokens / wallS };
}

export async function run(): Promise<{ title: string; rows: Row[] }> {
  const title = `Cluster vs embedded: TTFT and aggregate tokens/s (${TOKENS} tokens per stream)`;
  if (!process.env.REDIS_URL && !hasRedisServer()) {
    log('skipped: neither REDIS_URL nor a redis-server binary');
    return { title, rows: [{ skipped: 'neither REDIS_URL nor a redis-server binary' }] };
  }
  const model = await overheadModel();
  let redis: PrivateRedis | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    redis = new PrivateRedis();
    await redis.start();
    redisUrl = redis.url;
  }
  const contenders: Contender[] = [];
  const base = { OLLAMA_NUM_PARALLEL: '4', CORRAL_THREADS: '1', OLLAMA_KEEP_ALIVE: '-1' };
  try {
    log('starting embedded gateway');
    contenders.push({ name: 'embedded (1 forked worker)', server: await startCorral(base), workers: [] });
    for (const n of [1, 2]) {
      const prefix = clusterPrefix();
      const modelsDir = mkdtempSync(join(tmpdir(), 'corral-bench-cluster-'));
      const env = { ...base, REDIS_URL: redisUrl, CORRAL_CLUSTER_PREFIX: prefix, OLLAMA_MODELS: modelsDir };
      log(`starting cluster with ${n} worker(s)`);
      const workers: WorkerProcess[] = [];
      for (let i = 0; i < n; i++) workers.push(await startWorker(env));
      const server = await startCorral({ ...env, CORRAL_CLUSTER: '1', CORRAL_PLACEMENT: 'spread' });
      contenders.push({ name: `cluster, ${n} worker${n > 1 ? 's' : ''}`, server, workers, modelsDir });
    }
    for (const c of contenders) {
      await importModel(c.server, MODELS[0]!, model.path, { parameters: { num_ctx: 2048 } });
      await importModel(c.server, MODELS[1]!, model.path, { parameters: { num_ctx: 1024 } });
      await round(c.server, 4); // loads both instances, warms JIT and connections
      if (c.workers.length > 0) {
        await new Promise((r) => setTimeout(r, 3000)); // a heartbeat and a poll
        const res = await fetch(`${c.server.url}/admin/v1/workers`, { headers: c.server.auth });
        const body = (await res.json()) as { workers: { id: string; models: { name: string }[] }[] };
        const where = body.workers.map((w) => `${w.id}: ${w.models.map((m) => m.name).join(', ') || '-'}`);
        log(`${c.name} placement: ${where.join('; ')}`);
      }
    }
    const samples = new Map<string, { ttft: number[]; tokS: number[] }>();
    for (let rep = 0; rep < REPS; rep++) {
      for (const streams of CONCURRENCY) {
        for (const c of contenders) {
          const key = `${c.name}|${streams}`;
          const r = await round(c.server, streams);
          const s = samples.get(key) ?? { ttft: [], tokS: [] };
          s.ttft.push(...r.ttft);
          s.tokS.push(r.tokS);
          samples.set(key, s);
        }
      }
      log(`repetition ${rep + 1}/${REPS} done`);
    }
    const rows: Row[] = [];
    for (const streams of CONCURRENCY) {
      for (const c of contenders) {
        const s = samples.get(`${c.name}|${streams}`)!;
        const ttft = summarize(s.ttft);
        const tok = summarize(s.tokS);
        rows.push({
          streams,
          contender: c.name,
          'TTFT p50 ms': fmt(ttft.median, 1),
          'TTFT p90 ms': fmt(ttft.p90, 1),
          'aggregate tok/s (median round)': fmt(tok.median, 0),
          rounds: tok.n,
        });
      }
    }
    return { title: `${title}, ${model.label}`, rows };
  } finally {
    for (const c of contenders) {
      await c.server.stop();
      await Promise.all(c.workers.map((w) => w.stop()));
      if (c.modelsDir) rmSync(c.modelsDir, { recursive: true, force: true });
    }
    await redis?.dispose();
  }
}

runStandalone(module, run);
