/**
 * Decides where each request runs on this gateway's workers: loads a model instance on a worker when
 * needed (evicting idle least-recently-used instances when a worker is full), hands each request
 * one of the instance's parallel sequences, queues the rest up to a bound, expires idle instances by
 * keep_alive, and turns a worker's death into clear errors for exactly the requests it was serving.
 * The facade over three parts: the instance table (instances.ts), the jobs in flight (job-router.ts)
 * and, in cluster mode, second instances of busy models (replication.ts).
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { CorralError } from '@corral/common';
import { AsyncQueue } from './async-queue';
import type { FairShare } from './fair-queue';
import { FOREVER, type Instance, Instances } from './instances';
import { JobRouter, WorkerGone } from './job-router';
import { Replication } from './replication';
import type { WorkerSource } from './worker-pool';
import type { WorkerLink } from './worker-link';
import type { Constraint, ModelSpec, Prompt, SamplingInput, GenerationEvent } from '@corral/worker-protocol';
import { ModelSpecSchema, type ModelSpecInput } from '@corral/worker-protocol';

export interface RunTarget {
  /** Display name, e.g. `tiny:latest`. */
  name: string;
  /** What /api/ps reports about the model. */
  info: { digest: string; size: number; details: Record<string, unknown> };
  spec: Omit<ModelSpecInput, 'key' | 'name'>;
  /** Idle time before unload in ms; negative = never, 0 = right after this request. */
  keepAliveMs: number;
  /** Whose fair share a request waiting for a busy model counts against (team, weight, priority). */
  fair?: FairShare;
}

export interface GenerateRequest extends RunTarget {
  prompt: Prompt;
  sampling: SamplingInput;
  constraint?: Constraint;
  returnContext?: boolean;
  signal?: AbortSignal;
}

export interface EmbedRequest extends RunTarget {
  inputs: string[];
  truncate: boolean;
  signal?: AbortSignal;
}

export interface EmbedResult {
  vectors: number[][];
  promptTokens: number;
  loadDurationNs: number;
  totalDurationNs: number;
}

export interface RunningModel {
  name: string;
  digest: string;
  size: number;
  sizeVram: number;
  details: Record<string, unknown>;
  expiresAt: Date;
  contextLength: number;
  workerId: string;
}

/**
 * Where a new instance may be loaded (cluster mode). Without one, the scheduler picks the worker with
 * the fewest instances, as the embedded deployment always has.
 */
export interface Placement {
  /** Bytes the instance will need (reads the GGUF header; called before `candidates`). */
  estimate(spec: ModelSpec): Promise<number>;
  /**
   * Workers to try, best first; each may still refuse (no room), then the next is tried. With
   * `fitting`, only workers where the instance fits without evicting anything (a second instance).
   */
  candidates(
    spec: ModelSpec,
    bytes: number,
    workers: WorkerLink[],
    opts?: { fitting?: boolean },
  ): WorkerLink[];
}

/** The whole cluster's running models, for /api/ps on any gateway (cluster mode). */
export interface ClusterView {
  ps(local: RunningModel[]): Promise<RunningModel[]>;
}

export interface SchedulerOptions {
  maxLoadedModels: number;
  maxQueue: number;
  loadTimeoutMs: number;
  placement?: Placement;
  /**
   * Re-dispatch a generation whose worker died before it streamed a token (to another worker).
   * Cluster mode turns it on; the embedded mode keeps failing such requests (its only worker restarts).
   */
  redispatch?: boolean;
  view?: ClusterView;
  /**
   * Models pinned as always loaded (CORRAL_PIN): their instances are never expired by keep_alive
   * (nor by `keep_alive: 0`) and never evicted to make room. Unset: nothing is pinned.
   */
  pinned?: (name: string) => boolean;
}

/** A run target's spec as sent (the key and name are derived here). Built once: zod's omit() costs ~100 µs a call. */
const TargetSpecSchema = ModelSpecSchema.omit({ key: true, name: true });

export class Scheduler {
  private readonly logger = new Logger('Scheduler');
  private readonly router = new JobRouter();
  private readonly instances: Instances;
  private readonly replication: Replication;
  private queued = 0;

  constructor(
    pool: WorkerSource,
    private readonly opts: SchedulerOptions,
  ) {
    this.instances = new Instances(pool, this.router, opts);
    this.replication = new Replication(pool, this.instances, opts.placement);
    pool.onWorkerUp((w) => w.onMessage((m) => this.router.route(m)));
    pool.onWorkerDown((w, reason) => {
      this.instances.workerGone(w, reason);
      this.router.workerGone(w, reason);
    });
  }

  private specFor(t: RunTarget): ModelSpec {
    const partial = TargetSpecSchema.parse(t.spec);
    const key = [
      t.info.digest,
      partial.numCtx,
      partial.numParallel,
      partial.numGpuLayers,
      ...partial.adapters.map((a) => a.path),
    ].join('|');
    return { ...partial, key, name: t.name };
  }

  /** Gets (loading if needed) the instance for a target and reserves one of its sequences. */
  private async acquire(t: RunTarget, signal?: AbortSignal): Promise<Instance> {
    const spec = this.specFor(t);
    const inst = await this.instances.instanceFor(t, spec);
    clearTimeout(inst.timer);
    inst.keepAliveMs = t.keepAliveMs;
    inst.expiresAt = FOREVER;
    if (inst.active < spec.numParallel) {
      inst.active++;
      return inst;
    }
    if (this.queued >= this.opts.maxQueue) {
      throw new CorralError('queue_full', 'server busy, please try again. maximum pending requests exceeded');
    }
    this.queued++;
    const current = inst;
    try {
      // Resolved by a releasing request of this instance, or by a second instance that took it over.
      return await new Promise<Instance>((resolve, reject) => {
        const waiter = {
          resolve: (granted: Instance) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(granted);
          },
          reject,
        };
        const onAbort = () => {
          const i = current.waiters.indexOf(waiter);
          if (i >= 0) current.waiters.splice(i, 1);
          reject(new CorralError('bad_request', 'request cancelled'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        current.waiters.push(waiter, t.fair);
        this.replication.maybeReplicate(t, spec);
      });
    } finally {
      this.queued--;
    }
    // The releasing request passed its slot on: active is unchanged.
  }

  private release(inst: Instance): void {
    inst.lastUsed = Date.now();
    const next = inst.waiters.shift();
    if (next) return next.resolve(inst);
    inst.active--;
    if (inst.active === 0) this.instances.armExpiry(inst);
  }

  /**
   * Streams one generation. Throws CorralError before the first event if it cannot start. With
   * `redispatch`, a worker that dies before the first token costs a retry on another worker, not
   * the request; once a token has streamed, the stream ends with the error.
   */
  async *generate(req: GenerateRequest): AsyncGenerator<GenerationEvent> {
    for (let attempt = 0; ; attempt++) {
      const outcome = yield* this.generateOnce(req, this.opts.redispatch === true && attempt < 2);
      if (outcome === 'done') return;
      this.logger.warn(`re-dispatching a generation of '${req.name}' (${outcome})`);
    }
  }

  /** One try; returns 'done', or the reason to retry when the worker died before any token. */
  private async *generateOnce(
    req: GenerateRequest,
    mayRetry: boolean,
  ): AsyncGenerator<GenerationEvent, string> {
    const inst = await this.acquire(req, req.signal);
    const id = randomUUID();
    const events = new AsyncQueue<GenerationEvent>();
    let finished = false;
    let streamed = false;
    let retryReason: string | undefined;
    const onAbort = () => inst.worker.send({ type: 'cancel', id });
    this.router.open(id, {
      worker: inst.worker,
      onMessage: (m) => {
        if (m.type === 'chunk') {
          streamed = true;
          events.push({ type: 'chunk', text: m.text, tokens: m.tokens });
        } else if (m.type === 'done') {
          finished = true;
          events.push({ ...m, loadDurationNs: m.loadDurationNs + this.takeLoadNs(inst) });
          events.end();
        } else if (m.type === 'error') {
          finished = true;
          const code =
            m.code === 'bad_request' || m.code === 'context_overflow' ? 'bad_request' : 'worker_failed';
          events.fail(new CorralError(code, m.message));
        }
      },
      onWorkerGone: (reason) => {
        finished = true;
        if (mayRetry && !streamed && !req.signal?.aborted) {
          retryReason = `worker ${inst.worker.id} stopped before the first token: ${reason}`;
          events.end();
          return;
        }
        // Before any token the error is still the HTTP answer: a stuck worker is a 503 (retry later).
        if (inst.worker.stalled && !streamed) {
          events.fail(new CorralError('unavailable', `inference worker stopped responding (${reason})`));
          return;
        }
        const what = inst.worker.stalled ? 'stopped responding' : 'stopped';
        events.fail(
          new CorralError('worker_failed', `inference worker ${what} while generating (${reason})`),
        );
      },
    });
    try {
      if (req.signal?.aborted) throw new CorralError('bad_request', 'request cancelled');
      req.signal?.addEventListener('abort', onAbort, { once: true });
      inst.worker.send({
        type: 'generate',
        id,
        model: inst.spec,
        prompt: req.prompt,
        sampling: req.sampling,
        constraint: req.constraint,
        returnContext: req.returnContext ?? false,
      });
      yield* events;
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
      if (!finished) {
        // The consumer stopped early (client went away): cancel on the worker, and free the
        // sequence only once the worker confirms, so the next request never shares it.
        inst.worker.send({ type: 'cancel', id });
        const job = this.router.get(id);
        if (job) {
          job.onMessage = (m) => {
            if (m.type === 'done' || m.type === 'error') {
              this.router.close(id);
              this.release(inst);
            }
          };
          job.onWorkerGone = () => this.router.close(id);
        }
      } else {
        this.router.close(id);
        this.release(inst);
      }
    }
    return retryReason ?? 'done';
  }

  private takeLoadNs(inst: Instance): number {
    const ns = inst.pendingLoadNs;
    inst.pendingLoadNs = 0;
    return ns;
  }

  /** Embeds; with `redispatch`, a worker that dies under the job costs a retry elsewhere (embeddings are idempotent). */
  async embed(req: EmbedRequest): Promise<EmbedResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.embedOnce(req);
      } catch (e) {
        if (!(e instanceof WorkerGone) || !this.opts.redispatch || attempt >= 2 || req.signal?.aborted)
          throw e;
        this.logger.warn(`re-dispatching an embedding of '${req.name}' (${e.message})`);
      }
    }
  }

  private async embedOnce(req: EmbedRequest): Promise<EmbedResult> {
    const inst = await this.acquire(req, req.signal);
    try {
      const reply = await this.router.call(inst.worker, (id) => ({
        type: 'embed',
        id,
        model: inst.spec,
        inputs: req.inputs,
        truncate: req.truncate,
      }));
      if (reply.type === 'embeddings') {
        return {
          vectors: reply.vectors,
          promptTokens: reply.promptTokens,
          loadDurationNs: reply.loadDurationNs + this.takeLoadNs(inst),
          totalDurationNs: reply.totalDurationNs,
        };
      }
      if (reply.type === 'error') {
        throw new CorralError(
          reply.code === 'context_overflow' || reply.code === 'bad_request' ? 'bad_request' : 'worker_failed',
          reply.message,
        );
      }
      throw new CorralError('internal', `unexpected worker reply ${reply.type}`);
    } finally {
      this.release(inst);
    }
  }

  /**
   * Tokenizes with the model's own tokenizer. Takes no sequence (the worker tokenizes beside running
   * generations), so counting a prompt never waits for a busy model; the instance is only kept from
   * unloading meanwhile.
   */
  async tokenize(t: RunTarget, text: string): Promise<number[]> {
    const inst = await this.instances.instanceFor(t, this.specFor(t));
    clearTimeout(inst.timer);
    inst.tokenizing++;
    try {
      const reply = await this.router.call(inst.worker, (id) => ({
        type: 'tokenize',
        id,
        model: inst.spec,
        text,
      }));
      if (reply.type === 'tokenized') return reply.tokens;
      throw new CorralError('worker_failed', reply.type === 'error' ? reply.message : 'tokenize failed');
    } finally {
      inst.tokenizing--;
      if (inst.active === 0 && inst.tokenizing === 0 && this.instances.isCurrent(inst))
        this.instances.armExpiry(inst);
    }
  }

  /** Loads a model without generating (Ollama: empty prompt); returns load time in ns. */
  async load(t: RunTarget): Promise<number> {
    const inst = await this.acquire(t);
    const ns = this.takeLoadNs(inst);
    this.release(inst);
    return ns;
  }

  /** Unloads every instance of a model by name once idle (Ollama: keep_alive 0); pinned ones stay. */
  async unload(name: string): Promise<void> {
    await Promise.all(
      this.instances
        .all()
        .filter((i) => i.target.name === name && !this.instances.isPinned(i))
        .map(async (i) => {
          i.keepAliveMs = 0;
          if (i.active === 0) await this.instances.unloadInstance(i);
        }),
    );
  }

  /** Unloads instances of any model whose digest is no longer served (after delete). */
  async unloadDigest(digest: string): Promise<void> {
    await Promise.all(
      this.instances
        .all()
        .filter((i) => i.target.info.digest === digest)
        .map((i) => this.instances.unloadInstance(i)),
    );
  }

  ps(): RunningModel[] {
    return this.instances
      .all()
      .filter((i) => i.loaded)
      .map((i) => ({
        name: i.target.name,
        digest: i.target.info.digest,
        size: i.loaded?.sizeBytes ?? 0,
        sizeVram: i.loaded?.vramBytes ?? 0,
        details: i.target.info.details,
        expiresAt: new Date(Math.min(i.expiresAt, FOREVER)),
        contextLength: i.spec.numCtx,
        workerId: i.worker.id,
      }));
  }

  /** What /api/ps shows: this gateway's instances, or in cluster mode every worker's. */
  async psAll(): Promise<RunningModel[]> {
    const local = this.ps();
    return this.opts.view ? this.opts.view.ps(local) : local;
  }

  /** Sequences in use and requests waiting, per instance (for metrics and the admin API). */
  queueDepth(): { name: string; active: number; waiting: number; workerId: string }[] {
    return this.instances.all().map((i) => ({
      name: i.target.name,
      active: i.active,
      waiting: i.waiters.length,
      workerId: i.worker.id,
    }));
  }
}
