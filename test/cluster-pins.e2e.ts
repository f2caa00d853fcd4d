/**
 * Per-model pinning in cluster mode (CORRAL_PIN): a pinned model is loaded without any request, only
 * on the worker it is pinned to (where binpack would have chosen another), survives keep_alive, and
 * is refused rather than placed elsewhere when its worker is gone. Other models still expire.
 */
import { SCRIPT_TEXT, importModel, postJson, type CorralProcess } from '@corral/testing';
import { ClusterSuite, clusterDescribe, holders, waitFor, workersOf } from './support/cluster';

jest.setTimeout(240_000);

const maybe = clusterDescribe('cluster-pins.e2e');

maybe('CORRAL_PIN in a cluster', () => {
  const cluster = new ClusterSuite({ modelsDir: 'corral-pins-models-' });
  const small = `${cluster.prefix}-small`;
  const big = `${cluster.prefix}-big`;
  const { workers } = cluster;
  let gateway: CorralProcess;

  beforeAll(async () => {
    await cluster.start();
    // binpack prefers the fuller worker: the small one. The pin sends 'scripted' to the big one.
    await cluster.worker({ CORRAL_WORKER_ID: small, CORRAL_WORKER_MEMORY: '40MiB' });
    await cluster.worker({ CORRAL_WORKER_ID: big, CORRAL_WORKER_MEMORY: '80MiB' });
    gateway = await cluster.gateway({ OLLAMA_KEEP_ALIVE: '1s', CORRAL_PIN: `scripted@${big}` });
    await importModel(gateway.url, 'scripted', cluster.models.scripted);
    await importModel(gateway.url, 'random', cluster.models.random);
  });

  afterAll(() => cluster.stop());

  it('loads the pinned model without a request, on its worker only, and keeps it past keep_alive', async () => {
    const g = gateway;
    // Created after the gateway started: the pin keeper loads it on its next check.
    expect(
      await waitFor('the pinned model loaded', async () => {
        const h = await holders(g, 'scripted:latest');
        return h.length ? h : undefined;
      }),
    ).toEqual([big]);

    // An unpinned model goes where binpack puts it, and expires after its keep_alive. 5 s, not the
    // server's 1 s: workers report what they hold periodically, and on a loaded machine a 1 s model
    // could come and go between two reports.
    const r = await postJson(`${g.url}/api/generate`, {
      model: 'random',
      prompt: 'x',
      stream: false,
      keep_alive: '5s',
    });
    expect(r.status).toBe(200);
    expect(
      await waitFor('random loaded', async () => {
        const h = await holders(g, 'random:latest');
        return h.length ? h : undefined;
      }),
    ).toEqual([small]);
    // keep_alive: 0 unloads an unpinned model and leaves a pinned one loaded.
    const gen = await postJson(`${g.url}/api/generate`, {
      model: 'scripted',
      prompt: 'x',
      stream: false,
      keep_alive: 0,
    });
    expect(gen.json?.response).toBe(SCRIPT_TEXT);
    await waitFor('random expired', async () =>
      (await holders(g, 'random:latest')).length === 0 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 2500));
    expect(await holders(g, 'scripted:latest')).toEqual([big]);
    const ps = await postJson(`${g.url}/api/ps`, undefined, 'GET');
    expect((ps.json as { models: { name: string }[] }).models.map((m) => m.name)).toEqual([
      'scripted:latest',
    ]);
  });

  it('refuses the pinned model, naming its worker, while that worker is gone', async () => {
    const g = gateway;
    const pinned = workers.find((w) => w.id === big)!;
    await pinned.stop();
    workers.splice(workers.indexOf(pinned), 1);
    await waitFor('the worker gone', async () =>
      (await workersOf(g)).some((w) => w.id === big) ? undefined : true,
    );
    const res = await postJson(`${g.url}/api/generate`, { model: 'scripted', prompt: 'x', stream: false });
    expect(res.status).toBe(503);
    expect(res.json?.error).toBe(
      `model 'scripted:latest' is pinned to worker ${big} (CORRAL_PIN), and none of them is running`,
    );
    // Not placed on the other worker meanwhile (the keeper keeps trying, and must not either).
    await new Promise((r) => setTimeout(r, 1000));
    expect(await holders(g, 'scripted:latest')).toEqual([]);
  });
});
