/**
 * A second instance of a busy model (cluster mode): with one sequence per instance, a request that
 * has to wait behind a running one makes the gateway load the model on another worker, and the
 * waiting request runs there instead of waiting for the first to finish.
 */
import { HOLDING_OPTIONS, importModel, postJson, type CorralProcess } from '@corral/testing';
import { ClusterSuite, clusterDescribe, holders, waitFor, type WorkerJson } from './support/cluster';

jest.setTimeout(240_000);

const maybe = clusterDescribe('cluster-scale.e2e');

/** A streaming generation; resolves with its reader once the response started. */
async function stream(g: CorralProcess, model: string) {
  const res = await fetch(`${g.url}/api/generate`, {
    method: 'POST',
    headers: g.authHeaders,
    body: JSON.stringify({ model, prompt: 'go', options: HOLDING_OPTIONS }),
  });
  expect(res.status).toBe(200);
  return res.body!.getReader();
}

maybe('a busy model in a cluster', () => {
  const cluster = new ClusterSuite({ modelsDir: 'corral-scale-models-' });
  const { workers } = cluster;
  let gateway: CorralProcess;

  beforeAll(async () => {
    await cluster.start();
    for (let i = 0; i < 2; i++) await cluster.worker({ CORRAL_WORKER_MEMORY: '40MiB' });
    gateway = await cluster.gateway({ OLLAMA_NUM_PARALLEL: '1' });
    await importModel(gateway.url, 'random', cluster.models.random);
    await waitFor('both workers', async () => {
      const res = await postJson(`${gateway.url}/admin/v1/workers`, undefined, 'GET');
      return (res.json as { workers: WorkerJson[] }).workers.length === 2 ? true : undefined;
    });
  });

  afterAll(() => cluster.stop());

  it('loads a second instance on another worker and runs the waiting request there', async () => {
    const g = gateway;
    // Load it first and learn where, so the freeze below lands while the first stream runs.
    expect(
      (await postJson(`${g.url}/api/generate`, { model: 'random', prompt: 'x', stream: false })).status,
    ).toBe(200);
    const [busy] = await waitFor('the first instance', async () => {
      const h = await holders(g, 'random:latest');
      return h.length ? h : undefined;
    });
    const busyWorker = workers.find((w) => w.id === busy)!;
    const first = await stream(g, 'random');
    expect((await first.read()).done).toBe(false);
    // Freeze the first instance's worker mid-generation: its one sequence stays taken, so the next
    // request must wait, unless a second instance takes it.
    process.kill(busyWorker.proc.pid!, 'SIGSTOP');
    try {
      const second = await stream(g, 'random');
      expect((await second.read()).done).toBe(false);
      // It ran on a second instance the gateway loaded for it on the other worker.
      const other = workers.find((w) => w !== busyWorker)!.id;
      expect(g.output()).toContain(
        `'random:latest' has 1 requests waiting: loading a second instance on ${other}`,
      );
      process.kill(busyWorker.proc.pid!, 'SIGCONT');
      await second.cancel();
    } finally {
      process.kill(busyWorker.proc.pid!, 'SIGCONT');
    }
    await first.cancel();
    const both = await waitFor('the model on both workers', async () => {
      const h = await holders(g, 'random:latest');
      return h.length === 2 ? h : undefined;
    });
    expect(both.sort()).toEqual(workers.map((w) => w.id).sort());
  });
});
