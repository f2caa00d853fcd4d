/** Starts the llama-server baseline on 127.0.0.1 and waits until /health says it is ready. */
import { spawn } from 'node:child_process';
import { waitFor200 } from './http';
import { freePort } from './procs';

export interface LlamaServer {
  url: string;
  pid: number;
  /** ms from spawn to the first 200 from /health. */
  readyMs: number;
  stop(): Promise<void>;
}

export interface LlamaServerOptions {
  model: string;
  /** -t; undefined = llama-server's own default. */
  threads?: number;
  /** -tb (threads for batches of more than one token); defaults to `threads`. */
  threadsBatch?: number;
  /** -np: parallel slots. */
  parallel: number;
  /** Context per slot; -c is this × parallel. */
  ctxPerSlot: number;
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function startLlamaServer(bin: string, o: LlamaServerOptions): Promise<LlamaServer> {
  const port = await freePort();
  const args = [
    '-m',
    o.model,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '-np',
    String(o.parallel),
    '-c',
    String(o.ctxPerSlot * o.parallel),
    '--no-webui',
    '--log-disable',
    ...(o.threads ? ['-t', String(o.threads), '-tb', String(o.threadsBatch ?? o.threads)] : []),
  ];
  const start = now();
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (b: Buffer) => {
    err += b.toString();
    if (err.length > 50_000) err = err.slice(-20_000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code) => reject(new Error(`llama-server exited (${code}):\n${err.slice(-3000)}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([waitFor200(`${url}/health`, 60_000, 2), exited]);
  const readyMs = now() - start;
  return {
    url,
    pid: proc.pid ?? 0,
    readyMs,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    },
  };
}
