/**
 * Forks the real worker entry, compiled the way `npm run build` compiles it (swc with the repo's
 * .swcrc), and drives it over IPC like the gateway does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { unpackChunkBatch } from '@corral/worker-protocol';
import { type Heartbeat, HeartbeatMsg } from '@corral/worker-protocol';
import { type FromWorker, FromWorkerSchema } from '@corral/worker-protocol';
import { STORIES, describeWithModel, spec } from '@corral/testing';
import { buildWorker } from './testing';

jest.setTimeout(120_000);

describeWithModel(STORIES, 'worker process (compiled entry over IPC)', () => {
  let child: ChildProcess;
  let outDir: string;
  let entry: string;
  const received: FromWorker[] = [];
  const beats: Heartbeat[] = [];
  let stderr = '';

  beforeAll(() => {
    ({ outDir, entry } = buildWorker('worker-spec-build'));
    expect(existsSync(entry)).toBe(true);
    child = fork(entry, [], {
      serialization: 'advanced',
      env: { ...process.env, CORRAL_GPU: 'cpu', CORRAL_THREADS: '1', CORRAL_WORKER_HEARTBEAT_MS: '100' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    // As the gateway's link does: a turn's chunks may arrive as one envelope.
    child.on('message', (m) => {
      for (const message of unpackChunkBatch(m)) {
        // Heartbeats are the link's (it consumes them); they never mix with job messages.
        if ((message as { type?: unknown }).type === 'heartbeat') beats.push(HeartbeatMsg.parse(message));
        else received.push(FromWorkerSchema.parse(message));
      }
    });
  });
  afterAll(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(outDir, { recursive: true, force: true });
  });

  const waitFor = async (pred: (m: FromWorker) => boolean): Promise<FromWorker> => {
    for (let i = 0; i < 600; i++) {
      const hit = received.find(pred);
      if (hit) return hit;
      if (child.exitCode !== null) throw new Error(`worker exited (${child.exitCode}): ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out; stderr: ${stderr}`);
  };

  it('says hello with its hardware, generates over IPC and exits when the parent disconnects', async () => {
    const hello = await waitFor((m) => m.type === 'hello');
    expect(hello).toMatchObject({
      type: 'hello',
      info: { pid: child.pid, backend: 'cpu', threads: 1, gpus: [] },
    });

    child.send({
      type: 'generate',
      id: 'g1',
      model: spec(STORIES),
      prompt: { kind: 'text', text: 'Once upon a time' },
      sampling: { temperature: 0, numPredict: 12 },
    });
    const done = await waitFor((m) => m.type === 'done' && m.id === 'g1');
    const text = received.flatMap((m) => (m.type === 'chunk' && m.id === 'g1' ? [m.text] : [])).join('');
    expect(text.startsWith(', there was a little girl named Lily')).toBe(true);
    expect(done).toMatchObject({ doneReason: 'length', completionTokens: 12 });

    // The stall watchdog's heartbeat: on the requested period, with the running-job count.
    const seen = beats.length;
    await new Promise((r) => setTimeout(r, 500));
    expect(beats.length - seen).toBeGreaterThanOrEqual(2);
    expect(beats.at(-1)).toMatchObject({ type: 'heartbeat', jobs: 0 });

    child.send({ type: 'nonsense' });
    expect(await waitFor((m) => m.type === 'error')).toMatchObject({ code: 'bad_request' });

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.disconnect();
    expect(await exited).toBe(0);
    expect(stderr).toContain(`[worker ${child.pid}] gateway disconnected`);
  });
});
