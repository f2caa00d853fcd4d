/**
 * Cluster mode as an operator runs it: `corral serve` gateways with CORRAL_CLUSTER=1 and
 * `corral worker` processes, all separate processes on loopback, coordinated through Redis (the
 * machine's REDIS_URL under a prefix of this run's own, or a private redis-server) with a models
 * directory they all share. Two gateways need PostgreSQL (DATABASE_URL, a schema per run); without it
 * one gateway on PGlite runs and the two-gateway checks say they skip.
 */
import { HOLDING_OPTIONS, SCRIPT_TEXT, importModel, postJson, type CorralProcess } from '@corral/testing';
import {
  ClusterSuite,
  clusterDescribe,
  waitFor,
  workersOf,
  type WorkerJson,
  type WorkerProcess,
} from './support/cluster';

jest.setTimeout(240_000);

const maybe = clusterDescribe('cluster.e2e');

async function psOf(g: CorralProcess): Promise<string[]> {
  const res = await postJson(`${g.url}/api/ps`, undefined, 'GET');
  return ((res.json as { models: { name: string }[] }).models ?? []).map((m) => m.name).sort();
}

function holderOf(workers: WorkerJson[], model: string): WorkerJson[] {
  return workers.filter((w) => w.models.some((m) => m.name.startsWith(model)));
}

async function generate(g: CorralProcess, model: string): Promise<{ status: number; text: string }> {
  const res = await postJson(`${g.url}/api/generate`, { model, prompt: 'x', stream: false });
  return { status: res.status, text: String(res.json?.response ?? res.text) };
}

/** Starts a streaming generation and resolves once its first line arrived. */
async function startStream(g: CorralProcess, model: string) {
  const res = await fetch(`${g.url}/api/generate`, {
    method: 'POST',
    headers: g.authHeaders,
    body: JSON.stringify({ model, prompt: 'go', options: HOLDING_OPTIONS }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const first = await reader.read();
  expect(first.done).toBe(false);
  return {
    /** The rest of the stream, as parsed lines. */
    async rest(): Promise<{ error?: string; done?: boolean }[]> {
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      return text
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { error?: string });
    },
    cancel: () => reader.cancel(),
  };
}

maybe('a cluster of gateways and workers', () => {
  const cluster = new ClusterSuite({
    modelsDir: 'corral-cluster-models-',
    home: 'corral-cluster-home-',
    env: { OLLAMA_NUM_PARALLEL: '2' },
  });
  const { prefix, workers, gateways } = cluster;
  const postgres = process.env.DATABASE_URL;
  // Two gateways share one PostgreSQL: without DATABASE_URL their tests are reported as skipped.
  const withTwoGateways = postgres ? it : it.skip;

  beforeAll(async () => {
    await cluster.start();
    // Three workers, each with room for two of the tiny models (~19 MiB each at 4096 tokens).
    for (let i = 0; i < 3; i++) await cluster.worker({ CORRAL_WORKER_MEMORY: '40MiB' });
    const pg = postgres ? { DATABASE_URL: postgres, CORRAL_DB_SCHEMA: prefix.replace(/-/g, '_') } : {};
    await cluster.gateway(pg);
    if (postgres) await cluster.gateway(pg);
    else console.log('cluster.e2e: two-gateway tests skipped (set DATABASE_URL: gateways share PostgreSQL)');
    const g = gateways[0]!;
    const { models } = cluster;
    await importModel(g.url, 'scripted', models.scripted);
    await importModel(g.url, 'random', models.random);
    await importModel(g.url, 'tools', models.toolCaller);
    await waitFor('three workers', async () => ((await workersOf(g)).length === 3 ? true : undefined));
  });

  afterAll(() => cluster.stop());

  it('lists every worker with its memory budget', async () => {
    const list = await workersOf(gateways[0]!);
    expect(list.map((w) => w.id).sort()).toEqual(workers.map((w) => w.id).sort());
    for (const w of list) expect(w.memory_bytes).toBe(40 * 1024 * 1024);
    const anonymous = await fetch(`${gateways[0]!.url}/admin/v1/workers`);
    expect(anonymous.status).toBe(401);
  });

  it('places models by binpack, never over a worker budget, and /api/ps tells the truth', async () => {
    const g = gateways[0]!;
    expect(await generate(g, 'scripted')).toEqual({ status: 200, text: SCRIPT_TEXT });
    expect((await generate(g, 'random')).status).toBe(200);
    let list = await waitFor('both models in heartbeats', async () => {
      const l = await workersOf(g);
      return holderOf(l, 'random').length && holderOf(l, 'scripted').length ? l : undefined;
    });
    // binpack: the second model goes to the worker that already has one, since it still fits there.
    expect(holderOf(list, 'random').map((w) => w.id)).toEqual(holderOf(list, 'scripted').map((w) => w.id));
    // The third does not fit there any more: it goes elsewhere rather than over-commit.
    expect((await generate(g, 'tools')).status).toBe(200);
    list = await waitFor('three models in heartbeats', async () => {
      const l = await workersOf(g);
      return holderOf(l, 'tools').length ? l : undefined;
    });
    expect(holderOf(list, 'tools')[0]!.id).not.toBe(holderOf(list, 'scripted')[0]!.id);
    for (const w of list) expect(w.used_bytes).toBeLessThanOrEqual(w.memory_bytes);
    expect(await psOf(g)).toEqual(['random:latest', 'scripted:latest', 'tools:latest']);
  });

  withTwoGateways('a second gateway shares the loaded instances and sees the same cluster', async () => {
    const [g1, g2] = gateways as [CorralProcess, CorralProcess];
    // Each gateway reads heartbeats on its own beat: the views agree within a poll or two.
    const all = ['random:latest', 'scripted:latest', 'tools:latest'];
    await waitFor('the second gateway to see every model', async () =>
      JSON.stringify(await psOf(g2)) === JSON.stringify(all) ? true : undefined,
    );
    expect(await psOf(g1)).toEqual(all);
    expect(await generate(g2, 'scripted')).toEqual({ status: 200, text: SCRIPT_TEXT });
    const list = await workersOf(g1);
    // Still one instance of the model in the whole cluster, now held by both gateways.
    const holders = holderOf(list, 'scripted');
    expect(holders).toHaveLength(1);
    await waitFor('both gateways holding the model', async () => {
      const m = holderOf(await workersOf(g1), 'scripted')[0]?.models.find((x) =>
        x.name.startsWith('scripted'),
      );
      return m && m.holders.length === 2 ? true : undefined;
    });
  });

  it('re-dispatches requests whose worker stopped answering before the first token', async () => {
    const g = gateways[0]!;
    const list = await workersOf(g);
    const victim = workers.find((w) => w.id === holderOf(list, 'scripted')[0]!.id)!;
    // A frozen worker still looks alive until its heartbeat lapses, so the job goes to it first.
    process.kill(victim.proc.pid!, 'SIGSTOP');
    try {
      const [result, embedded] = await Promise.all([
        generate(g, 'scripted'),
        postJson(`${g.url}/api/embed`, { model: 'random', input: ['hello'] }),
      ]);
      expect(result).toEqual({ status: 200, text: SCRIPT_TEXT });
      expect(embedded.status).toBe(200);
      expect((embedded.json?.embeddings as number[][])[0]!.length).toBeGreaterThan(0);
      const after = await waitFor('the new placement in heartbeats', async () => {
        const l = await workersOf(g);
        return holderOf(l, 'scripted').length ? l : undefined;
      });
      expect(after.map((w) => w.id)).not.toContain(victim.id);
      expect(holderOf(after, 'scripted')[0]!.id).not.toBe(victim.id);
    } finally {
      victim.kill();
      process.kill(victim.proc.pid!, 'SIGCONT');
    }
    workers.splice(workers.indexOf(victim), 1);
    // /api/ps no longer lists what only the dead worker had.
    await waitFor('ps without the dead worker', async () => {
      const ps = await psOf(g);
      return ps.includes('scripted:latest') ? ps : undefined;
    });
  });

  it('a worker killed mid-stream ends that stream with an error; new requests succeed elsewhere', async () => {
    const g = gateways[0]!;
    // Load first and learn where, so the kill lands while the stream is still running.
    expect((await generate(g, 'random')).status).toBe(200);
    const holder = await waitFor(
      'the instance in heartbeats',
      async () => holderOf(await workersOf(g), 'random')[0],
    );
    const victim = workers.find((w) => w.id === holder.id)!;
    const stream = await startStream(g, 'random');
    victim.kill();
    workers.splice(workers.indexOf(victim), 1);
    const lines = await stream.rest();
    expect(lines.at(-1)?.error).toMatch(/worker/);
    const list = await workersOf(g);
    expect(list.map((w) => w.id)).not.toContain(victim.id);
    // A replacement joins (the tiny budgets leave the survivor no room); new requests run there.
    const replacement = await cluster.worker({ CORRAL_WORKER_MEMORY: '40MiB' });
    await waitFor('the replacement worker', async () =>
      (await workersOf(g)).some((w) => w.id === replacement.id) ? true : undefined,
    );
    expect((await generate(g, 'random')).status).toBe(200);
    const now = await waitFor(
      'the new instance in heartbeats',
      async () => holderOf(await workersOf(g), 'random')[0],
    );
    expect(now.id).not.toBe(victim.id);
  });

  withTwoGateways('a gateway that dies has its in-flight generation stopped on the worker', async () => {
    const [g1, g2] = gateways as [CorralProcess, CorralProcess];
    // g2 uses the instance already loaded on this worker.
    const holder = await waitFor('the random model', async () => holderOf(await workersOf(g2), 'random')[0]);
    const worker = workers.find((w) => w.id === holder.id)!;
    const stream = await startStream(g2, 'random');
    // The tiny model would finish on its own within seconds: freeze the worker mid-generation so
    // the gateway's lease surely lapses while the generation is still running.
    process.kill(worker.proc.pid!, 'SIGSTOP');
    g2.proc.kill('SIGKILL');
    gateways.splice(1, 1);
    void stream.cancel().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 7000));
    process.kill(worker.proc.pid!, 'SIGCONT');
    // The worker notices the lapsed lease and cancels; nothing keeps generating for nobody.
    await waitFor(
      'the worker to cancel the orphaned generation',
      async () => (/lease lapsed: cancelled 1 job/.test(worker.output()) ? true : undefined),
      20_000,
    );
    await waitFor('the worker idle again', async () =>
      (await workersOf(g1)).find((w) => w.id === worker.id)?.jobs === 0 ? true : undefined,
    );
  });
});

maybe('a Redis restart', () => {
  const cluster = new ClusterSuite({ modelsDir: 'corral-cluster-models-', privateRedis: true });
  let worker: WorkerProcess | undefined;
  let gateway: CorralProcess | undefined;

  beforeAll(async () => {
    await cluster.start();
    worker = await cluster.worker();
    gateway = await cluster.gateway({ OLLAMA_NUM_PARALLEL: '2' });
    await importModel(gateway.url, 'scripted', cluster.models.scripted);
  });

  afterAll(() => cluster.stop());

  it('gateways and workers reconnect by themselves and new requests succeed', async () => {
    const g = gateway!;
    await waitFor('the worker', async () => ((await workersOf(g)).length === 1 ? true : undefined));
    expect(await generate(g, 'scripted')).toEqual({ status: 200, text: SCRIPT_TEXT });
    await cluster.redis!.restart();
    const answer = await waitFor('a generation after the restart', async () => {
      const r = await generate(g, 'scripted');
      return r.status === 200 ? r.text : undefined;
    });
    expect(answer).toBe(SCRIPT_TEXT);
    expect((await workersOf(g)).map((w) => w.id)).toEqual([worker!.id]);
  });
});
