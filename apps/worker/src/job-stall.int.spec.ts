/**
 * The per-job progress watchdog (libs/inference/progress-watch.ts) in the real worker process: a job
 * wedged inside native code while the worker's JavaScript runs on fails in-band and the worker exits
 * non-zero (the gateway then restarts it, as after any crash).
 *
 * How the job is wedged, and why that is real enough: llama.cpp's decode runs as a job on libuv's
 * threadpool (node-llama-cpp's AsyncWorker). With UV_THREADPOOL_SIZE=1, which the gateway itself sets
 * on small machines, a preloaded script occupies that one thread with an open() of a FIFO that nobody
 * writes to, at the moment the generate job arrives. The job's first decode is then queued in native
 * code and never returns, exactly what a decode stuck in a driver or a deadlocked backend looks like
 * from JavaScript, while the event loop, and with it the heartbeat, keeps going. No hook in the
 * worker's own code is involved.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { unpackChunkBatch } from '@corral/worker-protocol';
import { type FromWorker, FromWorkerSchema, type Heartbeat, HeartbeatMsg } from '@corral/worker-protocol';
import { spec } from '@corral/testing';
import { buildScriptedModel } from '@corral/registry';
import { buildWorker } from './testing';

jest.setTimeout(120_000);

describe('worker process: a job wedged in native code', () => {
  let dir: string;
  let child: ChildProcess;
  let outDir: string;
  const received: FromWorker[] = [];
  const beats: Heartbeat[] = [];
  let stderr = '';
  let exited: Promise<string>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'corral-job-stall-'));
    await buildScriptedModel(path.join(dir, 'scripted.gguf'), {
      script: ['Hello', ' there'],
      name: 'scripted',
    });
    const fifo = path.join(dir, 'wedge.fifo');
    execFileSync('mkfifo', [fifo]);
    const preload = path.join(dir, 'wedge.js');
    writeFileSync(
      preload,
      `const fs = require('node:fs');
process.on('message', (m) => {
  if (m && m.type === 'generate' && m.id === 'wedged') fs.open(${JSON.stringify(fifo)}, 'r', () => {});
});
`,
    );
    const built = buildWorker('job-stall-build');
    outDir = built.outDir;
    child = fork(built.entry, [], {
      serialization: 'advanced',
      execArgv: ['--require', preload],
      env: {
        ...process.env,
        CORRAL_GPU: 'cpu',
        CORRAL_THREADS: '1',
        CORRAL_WORKER_HEARTBEAT_MS: '100',
        CORRAL_JOB_STALL_TIMEOUT: '2s',
        UV_THREADPOOL_SIZE: '1',
      },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)),
    );
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('message', (m) => {
      for (const message of unpackChunkBatch(m)) {
        if ((message as { type?: unknown }).type === 'heartbeat') beats.push(HeartbeatMsg.parse(message));
        else received.push(FromWorkerSchema.parse(message));
      }
    });
  });
  afterAll(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  const waitFor = async (pred: (m: FromWorker) => boolean): Promise<FromWorker> => {
    for (let i = 0; i < 600; i++) {
      const hit = received.find(pred);
      if (hit) return hit;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`worker exited (${child.exitCode}): ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out; stderr: ${stderr}`);
  };

  it('fails the job in-band after CORRAL_JOB_STALL_TIMEOUT while the heartbeat goes on, then the worker dies', async () => {
    await waitFor((m) => m.type === 'hello');
    const model = spec(path.join(dir, 'scripted.gguf'), { numCtx: 64 });
    // Loaded first: a load is a threadpool job too, and waiting for one is not watched.
    child.send({ type: 'load', id: 'l1', model });
    await waitFor((m) => m.type === 'loaded' && m.id === 'l1');
    // A healthy job on the same worker makes progress and is left alone.
    child.send({
      type: 'generate',
      id: 'ok',
      model,
      prompt: { kind: 'text', text: 'Hi' },
      sampling: { temperature: 0, numPredict: 2 },
    });
    await waitFor((m) => m.type === 'done' && m.id === 'ok');

    const sentAt = Date.now();
    // Another prompt: one the sequence does not hold, so the first decode carries it (a JS-driven step).
    child.send({
      type: 'generate',
      id: 'wedged',
      model,
      prompt: { kind: 'text', text: 'Hello there Hello there' },
      sampling: { temperature: 0, numPredict: 2 },
    });
    const error = await waitFor((m) => 'id' in m && m.id === 'wedged');
    const after = Date.now() - sentAt;
    expect(error).toMatchObject({
      type: 'error',
      code: 'internal',
      message: 'inference job made no progress for 2s; the worker is restarted',
    });
    expect(after).toBeGreaterThanOrEqual(2000);
    expect(after).toBeLessThan(6000);
    // The gateway's heartbeat watch would not have seen it: beats kept coming, with the job running.
    const during = beats.filter((b) => b.at >= sentAt + 500 && b.at <= sentAt + 1900);
    expect(during.length).toBeGreaterThanOrEqual(5);
    expect(during.every((b) => b.jobs === 1)).toBe(true);

    expect(await exited).toBe('SIGKILL');
    expect(received.filter((m) => 'id' in m && m.id === 'wedged')).toHaveLength(1);
    expect(stderr).toContain('job wedged made no progress');
  });
});
