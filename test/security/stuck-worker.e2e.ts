/**
 * A worker that stops answering, as a user experiences it. SIGSTOP leaves the process alive and its
 * connections open, so nothing ends by itself: the gateway must notice the silence (the stall
 * watchdog, CORRAL_WORKER_STALL_TIMEOUT), end the stream in flight with an in-band error, answer new
 * requests within a bounded time, and get a working worker back: a forked worker is killed and
 * restarted; a cluster worker (`corral worker`) is marked down, and when it resumes it rejoins clean.
 */
import { rmSync } from 'node:fs';
import {
  HOLDING_OPTIONS,
  SCRIPT_TEXT,
  buildTinyModels,
  importModel,
  postJson,
  startCorral,
  type CorralProcess,
  type TinyModels,
} from '@corral/testing';
import { ClusterSuite, clusterDescribe, waitFor, workersOf } from '../support/cluster';

jest.setTimeout(240_000);

/** The stall timeout the tests run with; the bounds below are this plus a margin for a loaded box. */
const STALL_S = 5;
const ERROR_WITHIN_MS = (STALL_S + 8) * 1000;
/** Without the watchdog nothing ever ends: reading stops here, and the test fails saying so. */
const GIVE_UP_MS = 40_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts a streaming generation that holds its sequence, and resolves once its first line arrived. */
async function startStream(g: CorralProcess, model: string) {
  const res = await fetch(`${g.url}/api/generate`, {
    method: 'POST',
    headers: g.authHeaders,
    body: JSON.stringify({ model, prompt: 'go', options: HOLDING_OPTIONS }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  expect((await reader.read()).done).toBe(false);
  return {
    /** The rest of the stream as parsed lines, or `hung` when it had not ended by the deadline. */
    async rest(deadlineMs: number): Promise<{ lines: { error?: string }[]; hung: boolean }> {
      let text = '';
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        void reader.cancel();
      }, deadlineMs);
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
      } catch {
        // cancelled at the deadline
      } finally {
        clearTimeout(timer);
      }
      const lines = text
        .split('\n')
        .filter(Boolean)
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as { error?: string }];
          } catch {
            return [];
          }
        });
      return { lines, hung };
    },
  };
}

/** A non-streaming generation with a deadline: its status and text, and how long it took. */
async function timedGenerate(g: CorralProcess, model: string, deadlineMs = GIVE_UP_MS) {
  const t0 = Date.now();
  try {
    const res = await fetch(`${g.url}/api/generate`, {
      method: 'POST',
      headers: g.authHeaders,
      body: JSON.stringify({ model, prompt: 'x', stream: false }),
      signal: AbortSignal.timeout(deadlineMs),
    });
    const text = await res.text();
    let body: { response?: string; error?: string } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // not JSON: kept as text below
    }
    return { status: res.status, text: body.response ?? body.error ?? text, ms: Date.now() - t0 };
  } catch {
    return { status: 0, text: `no answer within ${seconds(deadlineMs)}`, ms: Date.now() - t0 };
  }
}

describe('a stopped embedded worker', () => {
  let corral: CorralProcess;
  let models: TinyModels;
  const stopped: number[] = [];

  beforeAll(async () => {
    models = await buildTinyModels();
    corral = await startCorral({
      OLLAMA_NUM_PARALLEL: '2',
      OLLAMA_CONTEXT_LENGTH: '65536',
      CORRAL_WORKER_STALL_TIMEOUT: `${STALL_S}s`,
    });
    // The long-context model: its greedy stream runs for tens of seconds unless something ends it.
    await importModel(corral.url, 'random', models.long);
    await importModel(corral.url, 'scripted', models.scripted);
    expect((await timedGenerate(corral, 'scripted')).text).toBe(SCRIPT_TEXT);
  });

  afterAll(async () => {
    // Never leave a stopped process behind, whatever the outcome.
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await corral?.stop();
    if (models) rmSync(models.dir, { recursive: true, force: true });
  });

  const workerPid = async (): Promise<number | undefined> => {
    const res = await postJson(`${corral.url}/admin/v1/workers`, undefined, 'GET');
    const list = (res.json as { workers?: { pid: number }[] } | undefined)?.workers ?? [];
    return list[0]?.pid || undefined;
  };

  it('fails the stream in-band, answers new requests, kills the worker and restarts it', async () => {
    const pid = await waitFor('the worker pid', workerPid);
    const stream = await startStream(corral, 'random');
    process.kill(pid, 'SIGSTOP');
    stopped.push(pid);
    const t0 = Date.now();

    // A request that arrives while the worker is stopped: a clear error or an answer, in bounded time.
    const during = timedGenerate(corral, 'scripted');
    const { lines, hung } = await stream.rest(GIVE_UP_MS);
    const errorMs = Date.now() - t0;
    const d = await during;
    console.log(
      `stuck-worker (embedded, stall timeout ${STALL_S} s): ` +
        (hung
          ? `stream hung > ${seconds(errorMs)} with no error`
          : `stream error after ${seconds(errorMs)}`) +
        `; request sent during the stall: ${d.status || 'no answer'} after ${seconds(d.ms)}`,
    );
    expect(hung).toBe(false);
    expect(lines.at(-1)?.error).toMatch(/stopped responding/);
    expect(errorMs).toBeLessThan(ERROR_WITHIN_MS);
    if (d.status === 200) expect(d.text).toBe(SCRIPT_TEXT);
    else {
      expect(d.status).toBe(503);
      expect(d.text).toMatch(/stopped responding|no inference worker/);
    }
    expect(d.ms).toBeLessThan(ERROR_WITHIN_MS + 10_000);

    // The stopped process was killed (a stopped process ignores SIGTERM), and a new one took over.
    await waitFor('the stopped worker to be killed', async () => (alive(pid) ? undefined : true), 10_000);
    const fresh = await waitFor('a new worker', async () => {
      const p = await workerPid();
      return p && p !== pid ? p : undefined;
    });
    expect(fresh).not.toBe(pid);
    let answer = { status: 0, text: '', ms: 0 };
    await waitFor('the new worker to answer', async () => {
      answer = await timedGenerate(corral, 'scripted', 10_000);
      return answer.status === 200 ? true : undefined;
    });
    console.log(`stuck-worker (embedded): a new worker answered ${seconds(Date.now() - t0)} after SIGSTOP`);
    expect(answer.text).toBe(SCRIPT_TEXT);
    expect(corral.output()).toMatch(/stopped responding: no heartbeat for/);

    // The gateway never went down.
    expect(corral.proc.exitCode).toBeNull();
    expect((await postJson(`${corral.url}/api/version`, undefined, 'GET')).status).toBe(200);
  });
});

const maybe = clusterDescribe('stuck-worker.e2e (cluster)');

maybe('a stopped cluster worker', () => {
  const cluster = new ClusterSuite({
    modelsDir: 'corral-stuck-models-',
    home: 'corral-stuck-home-',
    env: { OLLAMA_NUM_PARALLEL: '2', OLLAMA_CONTEXT_LENGTH: '65536' },
  });
  const { workers } = cluster;
  let gateway: CorralProcess;

  beforeAll(async () => {
    await cluster.start();
    for (let i = 0; i < 2; i++) await cluster.worker({ CORRAL_WORKER_MEMORY: '2GiB' });
    gateway = await cluster.gateway({ CORRAL_WORKER_STALL_TIMEOUT: `${STALL_S}s` });
    await importModel(gateway.url, 'random', cluster.models.long);
    await importModel(gateway.url, 'scripted', cluster.models.scripted);
    await waitFor('two workers', async () => ((await workersOf(gateway)).length === 2 ? true : undefined));
  });

  afterAll(async () => {
    for (const w of workers) {
      try {
        w.proc.kill('SIGCONT');
      } catch {
        // already gone
      }
    }
    await cluster.stop();
  });

  it('fails its stream in-band, places nothing on it, and it rejoins clean after SIGCONT', async () => {
    const stream = await startStream(gateway, 'random');
    const holder = await waitFor('the stream in a heartbeat', async () => {
      const list = await workersOf(gateway);
      return list.find((w) => w.models.some((m) => m.name.startsWith('random') && m.active > 0))?.id;
    });
    const victim = workers.find((w) => w.id === holder)!;
    const other = workers.find((w) => w.id !== holder)!;
    victim.proc.kill('SIGSTOP');
    const t0 = Date.now();

    // Sent during the stall: re-dispatched to the other worker (or refused), never left hanging.
    const during = timedGenerate(gateway, 'scripted');
    const { lines, hung } = await stream.rest(GIVE_UP_MS);
    const errorMs = Date.now() - t0;
    const d = await during;
    console.log(
      `stuck-worker (cluster, stall timeout ${STALL_S} s): ` +
        (hung
          ? `stream hung > ${seconds(errorMs)} with no error`
          : `stream error after ${seconds(errorMs)}`) +
        `; request sent during the stall: ${d.status || 'no answer'} after ${seconds(d.ms)}`,
    );
    expect(hung).toBe(false);
    expect(lines.at(-1)?.error).toMatch(/stopped responding/);
    expect(errorMs).toBeLessThan(ERROR_WITHIN_MS);
    expect(d).toMatchObject({ status: 200, text: SCRIPT_TEXT });
    expect(d.ms).toBeLessThan(ERROR_WITHIN_MS + 10_000);

    // Marked down: no longer listed, and new work goes to the other worker.
    await waitFor('the stopped worker to be marked down', async () =>
      (await workersOf(gateway)).some((w) => w.id === victim.id) ? undefined : true,
    );
    expect(await timedGenerate(gateway, 'scripted', 20_000)).toMatchObject({
      status: 200,
      text: SCRIPT_TEXT,
    });

    // Resumed, it notices it was declared gone, drops the abandoned job and its models, and rejoins.
    victim.proc.kill('SIGCONT');
    await waitFor('the worker to notice', async () =>
      /declared gone by a gateway.*dropped 1 job/.test(victim.output()) ? true : undefined,
    );
    const back = await waitFor('the worker to rejoin empty', async () =>
      (await workersOf(gateway)).find((w) => w.id === victim.id && w.models.length === 0 && w.jobs === 0),
    );
    expect(back.used_bytes).toBe(0);

    // It serves again: with the other worker gone, the rejoined one takes the request.
    await other.stop();
    await waitFor('only the rejoined worker', async () => {
      const list = await workersOf(gateway);
      return list.length === 1 && list[0]!.id === victim.id ? true : undefined;
    });
    expect(await timedGenerate(gateway, 'scripted', 30_000)).toMatchObject({
      status: 200,
      text: SCRIPT_TEXT,
    });
    console.log(
      `stuck-worker (cluster): the resumed worker answered ${seconds(Date.now() - t0)} after SIGSTOP`,
    );
    expect(gateway.proc.exitCode).toBeNull();
  });
});
