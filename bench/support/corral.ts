/**
 * Starts Corral the way a user does (the built CLI's `serve`, its own CORRAL_HOME, a free port on
 * 127.0.0.1), sends the admin key once the server has written one, and imports models over HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { jsonRequest } from './http';
import { childPids, freePort } from './procs';

/** The repository root: the nearest folder above this file with a package.json (works from dist/). */
export const REPO_ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
const CLI_ENTRY = join(REPO_ROOT, 'dist/apps/cli/src/main.js');

export interface CorralServer {
  url: string;
  home: string;
  pid: number;
  /** Authorization header to send (empty when the server has no admin key). */
  auth: Record<string, string>;
  /** The worker process, once one is running. */
  workerPid(): number | undefined;
  output(): string;
  stop(): Promise<void>;
}

export async function startCorral(env: NodeJS.ProcessEnv): Promise<CorralServer> {
  if (!existsSync(CLI_ENTRY)) throw new Error(`Corral is not built (${CLI_ENTRY} missing): npm run build`);
  const home = mkdtempSync(join(tmpdir(), 'corral-bench-'));
  const port = await freePort();
  const proc: ChildProcess = spawn(process.execPath, [CLI_ENTRY, 'serve'], {
    env: {
      ...process.env,
      CORRAL_HOME: home,
      CORRAL_HOST: `127.0.0.1:${port}`,
      CORRAL_GPU: 'cpu',
      CORRAL_LOG_LEVEL: 'warn',
      DATABASE_URL: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((ready, reject) => {
    const timer = setTimeout(() => reject(new Error(`Corral did not start in 300 s:\n${out}`)), 300_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.length > 200_000) out = out.slice(-100_000);
      if (/listening on http/.test(out)) {
        clearTimeout(timer);
        ready();
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Corral exited with ${code} before listening:\n${out}`));
    });
  });
  // Authentication may or may not be part of this build: use the admin key if the server wrote one.
  const keyFile = join(home, 'admin.key');
  const auth: Record<string, string> = existsSync(keyFile)
    ? { authorization: `Bearer ${readFileSync(keyFile, 'utf8').trim()}` }
    : {};
  const pid = proc.pid ?? 0;
  return {
    url,
    home,
    pid,
    auth,
    workerPid: () => childPids(pid)[0],
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(t);
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Uploads a GGUF as Ollama's client does and creates `name` from it (with optional Modelfile fields). */
export async function importModel(
  server: CorralServer,
  name: string,
  file: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const data = readFileSync(file);
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  await jsonRequest('POST', `${server.url}/api/blobs/${digest}`, data, {
    ...server.auth,
    'content-type': 'application/octet-stream',
  });
  await jsonRequest(
    'POST',
    `${server.url}/api/create`,
    { model: name, files: { [basename(file)]: digest }, stream: false, ...extra },
    server.auth,
  );
}
