/**
 * Worker process entry. The gateway forks this file with an IPC channel (`serialization: 'advanced'`);
 * the job protocol travels over that channel only: the worker opens no port.
 * stdout is left alone (a stray print there is harmless); diagnostics go to stderr.
 */
import {
  type ChunkBatch,
  DEFAULT_HEARTBEAT_MS,
  type FromWorker,
  HEARTBEAT_ENV,
  type Heartbeat,
  chunkBatchingSender,
} from '@corral/worker-protocol';
import { type WorkerSettings, workerSettings } from '@corral/config';
import { WorkerHost } from '@corral/inference';

const prefix = `[worker ${process.pid}]`;
const log = (line: string): void => {
  process.stderr.write(`${prefix} ${line}\n`);
};

function main(): void {
  if (!process.send || !process.connected) {
    log('must be started by the gateway with an IPC channel (child_process.fork); exiting');
    process.exit(2);
  }
  const send = process.send.bind(process);
  // Read once, from the environment the gateway set (workerSettingsEnv) or inherited.
  let settings: WorkerSettings;
  try {
    settings = workerSettings(process.env);
  } catch (e) {
    log(`cannot start llama.cpp: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  const host = new WorkerHost({ ...settings, log });

  // The chunks of one decode step (one per active sequence) leave as one IPC message (chunk-batch.ts).
  host.onMessage(
    chunkBatchingSender((msg: FromWorker | ChunkBatch) => {
      if (!process.connected) return;
      send(msg, undefined, undefined, (err) => {
        if (err) log(`send failed for ${msg.type}: ${err.message}`);
      });
    }),
  );
  // Liveness for the gateway's stall watchdog. A timer on this thread, not on llama.cpp's: loads and
  // decode steps run on other threads, so a beat that stops means the whole process stopped (SIGSTOP,
  // a blocked event loop), not that a step is slow.
  const every = Number(process.env[HEARTBEAT_ENV]) || DEFAULT_HEARTBEAT_MS;
  const beat = setInterval(() => {
    if (!process.connected) return;
    const msg: Heartbeat = { type: 'heartbeat', at: Date.now(), jobs: host.runningJobs };
    send(msg, undefined, undefined, () => undefined);
  }, every);
  beat.unref();
  host.onShutdown(() => process.exit(0));
  // A job wedged in native code (progress-watch.ts): its error has gone out; the context cannot be
  // trusted, so the worker ends and the gateway's crash path restarts it. Not with process.exit: exit
  // joins libuv's threadpool, and a wedged native call never returns, so that would hang too (seen with
  // job-stall.int.spec.ts). SIGKILL to itself, once the message queue is written: IPC messages leave in
  // order, so once this last beat is out the error before it is too.
  host.onWedged(() => {
    const die = (): void => void process.kill(process.pid, 'SIGKILL');
    setTimeout(die, 2000).unref();
    const last: Heartbeat = { type: 'heartbeat', at: Date.now(), jobs: host.runningJobs };
    if (process.connected) send(last, undefined, undefined, die);
    else die();
  });
  process.on('message', (msg) => host.handle(msg));

  // Never outlive the gateway: a worker without a parent would hold GPU memory forever.
  process.on('disconnect', () => {
    log('gateway disconnected; shutting down');
    const force = setTimeout(() => process.exit(0), 5000);
    force.unref();
    void host.shutdown();
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void host.shutdown());
  }

  host.start().then(
    (info) => log(`ready: backend=${info.backend} threads=${info.threads} gpus=${info.gpus.length}`),
    (e: unknown) => {
      log(`cannot start llama.cpp: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}

main();
