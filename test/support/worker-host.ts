/**
 * Test support for this feature's specs: a WorkerHost driven in-process, and the real models from
 * ../shared/models (tests that need one skip with a message when it is absent).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { workerSettings } from '@corral/config';
import { WorkerHost } from '@corral/inference';
import {
  type FromWorker,
  type ModelSpec,
  type ModelSpecInput,
  ModelSpecSchema,
  type ToWorkerInput,
} from '@corral/worker-protocol';

export const MODELS_DIR = process.env.CORRAL_TEST_MODELS ?? path.resolve(__dirname, '../../../shared/models');
export const STORIES = path.join(MODELS_DIR, 'stories260K.gguf');
export const STORIES_CHAT = path.join(MODELS_DIR, 'stories260K-chat-template.gguf');

/** `describe`, or `describe.skip` with a console line naming the missing model. */
export function describeWithModel(file: string, name: string, fn: () => void): void {
  if (existsSync(file)) {
    describe(name, fn);
  } else {
    console.warn(
      `SKIPPED "${name}": model ${file} not found (set CORRAL_TEST_MODELS to the shared models folder)`,
    );
    describe.skip(name, fn);
  }
}

export function spec(file: string, over: Partial<ModelSpecInput> = {}): ModelSpec {
  const name = path.basename(file, '.gguf');
  return ModelSpecSchema.parse({
    key: `${name}:${over.numCtx ?? 256}x${over.numParallel ?? 1}`,
    name,
    path: file,
    numCtx: 256,
    numParallel: 1,
    ...over,
  });
}

const TERMINAL = new Set(['done', 'loaded', 'unloaded', 'embeddings', 'tokenized', 'error']);

/** Drives a WorkerHost and collects what it sends per job id. */
export class Harness {
  readonly host: WorkerHost;
  readonly logs: string[] = [];
  private readonly byId = new Map<string, FromWorker[]>();
  private readonly waiters = new Map<string, (msgs: FromWorker[]) => void>();
  private seq = 0;

  constructor() {
    // The rest as a worker process would read it (CORRAL_DECODE_LOOP, UV_THREADPOOL_SIZE, ...).
    this.host = new WorkerHost({
      ...workerSettings(process.env),
      gpu: 'cpu',
      threads: 1,
      log: (l) => this.logs.push(l),
    });
    this.host.onMessage((m) => {
      const id = 'id' in m ? m.id : '';
      const list = this.byId.get(id) ?? [];
      list.push(m);
      this.byId.set(id, list);
      if (TERMINAL.has(m.type)) {
        this.waiters.get(id)?.(list);
        this.waiters.delete(id);
      }
    });
  }

  nextId(prefix = 'job'): string {
    return `${prefix}-${++this.seq}`;
  }

  /** Sends a job and resolves with all its messages once the terminal one arrives. */
  request(msg: ToWorkerInput & { id: string }, onMessage?: (m: FromWorker) => void): Promise<FromWorker[]> {
    const done = new Promise<FromWorker[]>((resolve) => this.waiters.set(msg.id, resolve));
    if (onMessage) {
      const off = this.host.onMessage((m) => {
        if ('id' in m && m.id === msg.id) onMessage(m);
      });
      void done.then(off);
    }
    this.host.handle(msg);
    return done;
  }

  async generate(
    model: ModelSpec,
    prompt: string,
    sampling: Record<string, unknown> = {},
    extra: Record<string, unknown> = {},
  ): Promise<{
    text: string;
    done: Extract<FromWorker, { type: 'done' }>;
    chunks: Extract<FromWorker, { type: 'chunk' }>[];
  }> {
    const msgs = await this.request({
      type: 'generate',
      id: this.nextId('gen'),
      model,
      prompt: { kind: 'text', text: prompt },
      sampling: { temperature: 0, ...sampling },
      ...extra,
    } as ToWorkerInput & { id: string });
    return splitGeneration(msgs);
  }
}

export function splitGeneration(msgs: FromWorker[]): {
  text: string;
  done: Extract<FromWorker, { type: 'done' }>;
  chunks: Extract<FromWorker, { type: 'chunk' }>[];
} {
  const last = msgs[msgs.length - 1];
  if (last?.type !== 'done') throw new Error(`expected done, got ${JSON.stringify(last)}`);
  const chunks = msgs.filter((m): m is Extract<FromWorker, { type: 'chunk' }> => m.type === 'chunk');
  return { text: chunks.map((c) => c.text).join(''), done: last, chunks };
}

export function lastOf(msgs: FromWorker[]): FromWorker {
  const last = msgs[msgs.length - 1];
  if (!last) throw new Error('no messages');
  return last;
}
