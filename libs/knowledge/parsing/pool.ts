/**
 * ParsePool: parseDocument on worker_threads, so PDF/DOCX parsing (seconds of CPU on big files)
 * never runs on the gateway's event loop. A small own pool: one job per thread at a time, a FIFO
 * queue, a per-document time limit, and a thread that dies is replaced.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  ParseError,
  PARSE_FAILURES,
  type ParsedDocument,
  type ParseFailure,
  type ParseLimits,
} from './parsing.types';

export interface WorkerRequest {
  id: number;
  bytes: Uint8Array;
  filename: string;
  limits?: Partial<ParseLimits>;
}
export type WorkerReply =
  | { id: number; ok: true; doc: ParsedDocument }
  | { id: number; ok: false; failure: ParseFailure | null; message: string };

export interface ParsePoolOptions {
  /** Threads parsing at once. Defaults to the CPU count minus one, between 1 and 4. */
  threads?: number;
  /** A document still parsing after this long fails as too_large and its thread is replaced. Defaults to 120 000 ms. */
  timeoutMs?: number;
  /** Heap cap of each thread, so one hostile document cannot take the gateway's memory. Defaults to 2048 MiB. */
  maxHeapMb?: number;
}

interface Job extends WorkerRequest {
  resolve(doc: ParsedDocument): void;
  reject(e: Error): void;
}
interface Slot {
  worker: Worker;
  job: Job | null;
  timer: NodeJS.Timeout | null;
}

/** The compiled thread script: beside this file in dist/, or under <repo>/dist/ when running from .ts (Jest). */
export function workerScript(): string {
  if (!__filename.endsWith('.ts')) return join(__dirname, 'parse.worker.js');
  const root = resolve(__dirname, '../../..');
  const script = join(root, 'dist', relative(root, __dirname), 'parse.worker.js');
  if (!existsSync(script))
    throw new Error(`ParsePool needs the compiled thread script ${script}; run npm run build first`);
  return script;
}

export class ParsePool {
  private readonly size: number;
  private readonly timeoutMs: number;
  private readonly maxHeapMb: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(opts: ParsePoolOptions = {}) {
    this.size = Math.max(1, Math.floor(opts.threads ?? Math.min(4, Math.max(1, availableParallelism() - 1))));
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.maxHeapMb = opts.maxHeapMb ?? 2048;
  }

  parse(bytes: Uint8Array, filename: string, limits?: Partial<ParseLimits>): Promise<ParsedDocument> {
    if (this.closed) return Promise.reject(new Error('the ParsePool is closed'));
    return new Promise<ParsedDocument>((res, rej) => {
      this.queue.push({
        id: this.nextId++,
        bytes,
        filename: String(filename),
        limits,
        resolve: res,
        reject: rej,
      });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0))
      job.reject(new Error('the ParsePool was closed before this document was parsed'));
    await Promise.all(
      this.slots
        .splice(0)
        .map((s) => this.retire(s, new Error('the ParsePool was closed while parsing this document'))),
    );
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === null);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift() as Job;
      slot.job = job;
      slot.worker.ref();
      slot.timer = setTimeout(() => {
        void this.retire(
          slot,
          new ParseError('too_large', `parsing did not finish within ${Math.round(this.timeoutMs / 1000)} s`),
        ).then(() => this.pump());
      }, this.timeoutMs);
      const req: WorkerRequest = { id: job.id, bytes: job.bytes, filename: job.filename, limits: job.limits };
      slot.worker.postMessage(req);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(workerScript(), { resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb } });
    const slot: Slot = { worker, job: null, timer: null };
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.job;
      if (!job || job.id !== reply.id) return;
      this.settle(slot);
      if (reply.ok) job.resolve(reply.doc);
      else if (reply.failure && PARSE_FAILURES.includes(reply.failure))
        job.reject(new ParseError(reply.failure, reply.message));
      else job.reject(new Error(reply.message));
      this.pump();
    });
    const died = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      this.slots.splice(i, 1);
      const job = slot.job;
      this.settle(slot);
      job?.reject(new Error(`the parse thread stopped while parsing this document (${why})`));
      this.pump();
    };
    worker.on('error', (e) => died(e.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private settle(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
    slot.worker.unref();
  }

  private async retire(slot: Slot, reason: Error): Promise<void> {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    const job = slot.job;
    this.settle(slot);
    job?.reject(reason);
    await slot.worker.terminate();
  }
}
