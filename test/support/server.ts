/**
 * Starts the real, built Corral server (`node dist/apps/cli/src/main.js serve`) as a child process
 * with its own CORRAL_HOME and a free port, the way a user runs it. e2e tests talk to it over HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '../..');
export const CLI_ENTRY = join(REPO_ROOT, 'dist/apps/cli/src/main.js');

/**
 * Admin key of each running test server, by URL: the HTTP helpers (importModel, postJson) send it
 * to that server unless the caller passes its own headers.
 */
export const SERVER_KEYS = new Map<string, string>();

/** Authorization for a URL served by a server started here (none for other URLs). */
export function authFor(url: string): Record<string, string> {
  for (const [base, key] of SERVER_KEYS) if (url.startsWith(base)) return { Authorization: `Bearer ${key}` };
  return {};
}

export interface CorralProcess {
  url: string;
  home: string;
  /** The admin key the server wrote to $CORRAL_HOME/admin.key at first start. */
  key: string;
  /** `{ Authorization: 'Bearer <admin key>' }`, for fetch and the SDKs. */
  authHeaders: Record<string, string>;
  proc: ChildProcess;
  /** Everything the server printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export async function startCorral(env: NodeJS.ProcessEnv = {}, home?: string): Promise<CorralProcess> {
  if (!existsSync(CLI_ENTRY))
    throw new Error(`Corral is not built (${CLI_ENTRY} missing): run npm run build`);
  const dir = home ?? mkdtempSync(join(tmpdir(), 'corral-e2e-'));
  const proc = spawn(process.execPath, [CLI_ENTRY, 'serve'], {
    env: {
      ...process.env,
      CORRAL_HOME: dir,
      CORRAL_HOST: '127.0.0.1:0',
      CORRAL_THREADS: '1',
      CORRAL_GPU: 'cpu',
      OLLAMA_NUM_PARALLEL: '4',
      CORRAL_LOG_LEVEL: 'info',
      DATABASE_URL: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`Corral did not start in time:\n${out}`)), 90_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Corral exited with ${code} before listening:\n${out}`));
    });
  });
  const key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
  SERVER_KEYS.set(url, key);
  return {
    url,
    home: dir,
    key,
    authHeaders: { Authorization: `Bearer ${key}` },
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await gone;
        clearTimeout(t);
      }
      SERVER_KEYS.delete(url);
      if (!home) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the `corral` CLI against a server and returns its output and exit code. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const p = spawn(process.execPath, [CLI_ENTRY, ...args], {
      env: { ...process.env, ...env },
      stdio: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('exit', (code) => resolveRun({ code, stdout, stderr }));
    if (input !== undefined) p.stdin.end(input);
    else p.stdin.end();
  });
}
