/**
 * The transport seam between the scheduler and one worker. The embedded deployment forks a child
 * process and speaks over its IPC channel; the cluster deployment implements the same interface
 * over Redis. The scheduler only ever sees this interface.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { workerStallTimeoutMs } from '@corral/config';
import { unpackChunkBatch } from '@corral/worker-protocol';
import {
  DEFAULT_HEARTBEAT_MS,
  FromWorkerSchema,
  HEARTBEAT_ENV,
  type FromWorker,
  type ToWorkerInput,
  type WorkerInfo,
} from '@corral/worker-protocol';
import { StallWatch } from './stall-watch';

export interface WorkerLink {
  readonly id: string;
  /** Set once the worker has said hello. */
  info?: WorkerInfo;
  /**
   * Set (before the exit callbacks run) when the worker was declared gone because it stopped
   * answering (no heartbeat for the stall timeout), as opposed to crashing or exiting.
   */
  readonly stalled?: boolean;
  send(msg: ToWorkerInput): void;
  onMessage(cb: (m: FromWorker) => void): void;
  /** Called once when the worker is gone, with a human reason. */
  onExit(cb: (reason: string) => void): void;
  close(): Promise<void>;
}

/** Where the compiled worker entry lives, from source (jest) or from dist. */
export function workerEntry(): string {
  if (process.env.CORRAL_WORKER_ENTRY) return process.env.CORRAL_WORKER_ENTRY;
  const besideDist = resolve(__dirname, '../../apps/worker/src/main.js');
  if (existsSync(besideDist)) return besideDist;
  return join(resolve(__dirname, '../..'), 'dist/apps/worker/src/main.js');
}

export interface ChildWorkerOptions {
  id: string;
  env?: NodeJS.ProcessEnv;
  entry?: string;
  /** Receives the worker's stderr lines (logs). Defaults to the gateway's stderr. */
  log?: (line: string) => void;
  /**
   * A worker that sends nothing (not even its heartbeat) this long is declared stuck, killed with
   * SIGKILL (a stopped process ignores SIGTERM) and reported gone. Defaults to CORRAL_WORKER_STALL_TIMEOUT, else 10 s.
   */
  stallTimeoutMs?: number;
  /** How often the worker sends a heartbeat. Defaults to 1 s (at most a quarter of the stall timeout). */
  heartbeatMs?: number;
}

export class ChildProcessWorkerLink implements WorkerLink {
  readonly id: string;
  info?: WorkerInfo;
  private readonly child: ChildProcess;
  private readonly messageCbs: ((m: FromWorker) => void)[] = [];
  private readonly exitCbs: ((reason: string) => void)[] = [];
  private exited = false;
  private stalledFlag = false;
  private readonly watch: StallWatch;

  constructor(opts: ChildWorkerOptions) {
    this.id = opts.id;
    const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
    const stallMs = opts.stallTimeoutMs ?? workerStallTimeoutMs();
    const beatMs = opts.heartbeatMs ?? Math.min(DEFAULT_HEARTBEAT_MS, Math.floor(stallMs / 4));
    this.child = fork(opts.entry ?? workerEntry(), [], {
      env: { ...process.env, ...opts.env, CORRAL_WORKER_ID: opts.id, [HEARTBEAT_ENV]: String(beatMs) },
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
    });
    const forward = (buf: Buffer) => {
      for (const line of buf.toString('utf8').split('\n')) if (line.trim()) log(line);
    };
    this.child.stdout?.on('data', forward);
    this.child.stderr?.on('data', forward);
    this.watch = new StallWatch({
      timeoutMs: stallMs,
      onStall: (silentMs) => {
        const reason =
          `it stopped responding: no heartbeat for ${(silentMs / 1000).toFixed(1)} s ` +
          `(CORRAL_WORKER_STALL_TIMEOUT ${(stallMs / 1000).toFixed(0)} s); killed`;
        log(`[gateway] worker ${this.id} (pid ${this.child.pid}) ${reason} with SIGKILL`);
        this.stalledFlag = true;
        this.child.kill('SIGKILL');
        // Fail its requests now: the exit event of a killed process follows, but nothing waits for it.
        this.markExited(reason);
      },
    });
    this.child.on('message', (envelope) => {
      this.watch.heard();
      for (const raw of unpackChunkBatch(envelope)) {
        if (isHeartbeat(raw)) continue;
        if (isWellFormedChunk(raw)) {
          for (const cb of this.messageCbs) cb(raw);
          continue;
        }
        const parsed = FromWorkerSchema.safeParse(raw);
        if (!parsed.success) {
          log(`[gateway] worker ${this.id} sent an invalid message: ${parsed.error.message}`);
          continue;
        }
        if (parsed.data.type === 'hello') this.info = parsed.data.info;
        for (const cb of this.messageCbs) cb(parsed.data);
      }
    });
    this.child.on('exit', (code, signal) =>
      this.markExited(signal ? `signal ${signal}` : `exit code ${code}`),
    );
    this.child.on('error', (e) => this.markExited(e.message));
  }

  private markExited(reason: string): void {
    if (this.exited) return;
    this.exited = true;
    this.watch.stop();
    for (const cb of this.exitCbs) cb(reason);
  }

  get stalled(): boolean {
    return this.stalledFlag;
  }

  /** When the worker was last heard from (any message, its heartbeat included), epoch ms. */
  get lastHeardAt(): number {
    return this.watch.lastHeardAt;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(msg: ToWorkerInput): void {
    if (this.exited || !this.child.connected) return;
    this.child.send(msg);
  }

  onMessage(cb: (m: FromWorker) => void): void {
    this.messageCbs.push(cb);
  }

  onExit(cb: (reason: string) => void): void {
    this.exitCbs.push(cb);
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

function isHeartbeat(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'heartbeat';
}

/**
 * The per-token message, checked by hand: the same conditions as its schema at a fraction of the cost
 * (the schema pass was ~5% of the gateway's busy time at 16 streams). Anything else goes through zod.
 */
export function isWellFormedChunk(raw: unknown): raw is Extract<FromWorker, { type: 'chunk' }> {
  if (typeof raw !== 'object' || raw === null) return false;
  const m = raw as Record<string, unknown>;
  return (
    m.type === 'chunk' &&
    typeof m.id === 'string' &&
    typeof m.text === 'string' &&
    typeof m.tokens === 'number' &&
    Number.isInteger(m.tokens) &&
    m.tokens >= 0
  );
}
