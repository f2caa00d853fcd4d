/**
 * Decides where each request runs on this gateway's workers: loads a model instance on a worker when
 * needed (evicting idle least-recently-used instances when a worker is full), hands each request
 * one of the instance's parallel sequences, queues the rest up to a bound, expires idle instances by
 * keep_alive, and turns a worker's death into clear errors for exactly the requests it was serving.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { CorralError } from '@corral/common';
import { AsyncQueue } from './async-queue';
import { FairQueue, type FairShare } from './fair-queue';
import type { WorkerSource } from './worker-pool';
import type { WorkerLink } from './worker-link';
import type {
  Constraint,
  DoneResult,
  FromWorker,
  LoadedModel,
  ModelSpec,
  Prompt,
  SamplingInput,
} from './protocol';
import { ModelSpecSchema, type ModelSpecInput } from './protocol';

export type GenerationEvent = { type: 'chunk'; text: string; tokens: number } | DoneResult;

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

interface Instance {
  /** Its entry in `instances`: the spec key, or `<key>#<n>` for a second instance (cluster mode). */
  slot: string;
  key: string;
  target: RunTarget;
  spec: ModelSpec;
  worker: WorkerLink;
  loaded?: LoadedModel;
  ready: Promise<void>;
  active: number;
  /** Tokenize calls in flight (they hold no sequence but keep the instance loaded). */
  tokenizing: number;
  /** Requests waiting for a sequence of this instance, served by weighted fair share across teams. */
  waiters: FairQueue<{ resolve: (inst: Instance) => void; reject: (e: unknown) => void }>;
  lastUsed: number;
  keepAliveMs: number;
  expiresAt: number;
  timer?: NodeJS.Timeout;
  /** Load time not yet reported to a request. */
  pendingLoadNs: number;
}

interface PendingJob {
  worker: WorkerLink;
  onMessage: (m: FromWorker) => void;
  onWorkerGone: (reason: string) => void;
}

const FOREVER = 8.64e15;
/** After a second instance could not be placed, wait this long before trying again. */
const REPLICA_BACKOFF_MS = 30_000;
/** A run target's spec as sent (the key and name are derived here). Built once: zod's omit() costs ~100 µs a call. */
const TargetSpecSchema = ModelSpecSchema.omit({ key: true, name: true });

/** A worker had no room for the model (out_of_memory even after evicting). */
class LoadRefused extends Error {}

/**
 * The worker died under a request/response job (as opposed to answering with an error). One that
 * stopped answering (stall watchdog) is a 503: nothing ran, and a retry may find a restarted worker.
 */
class WorkerGone extends CorralError {
  constructor(reason: string, stalled = false) {
    super(
      stalled ? 'unavailable' : 'worker_failed',
      stalled ? `inference worker stopped responding (${reason})` : `inference worker stopped (${reason})`,
    );
  }
}

export class Scheduler {
  private readonly logger = new Logger('Scheduler');
  private readonly instances = new Map<string, Instance>();
  private readonly jobs = new Map<string, PendingJob>();
  private queued = 0;
  private replicaSeq = 0;
  /** Per spec key: no second instance is tried before this time (the last try found no room). */
  private readonly replicaBackoff = new Map<string, number>();
  /** Spec keys whose second instance is being placed or loaded. */
  private readonly replicating = new Set<string>();

  constructor(
    private readonly pool: WorkerSource,
    private readonly opts: SchedulerOptions,
  ) {
    pool.onWorkerUp((w) => w.onMessage((m) => this.route(m)));
    pool.onWorkerDown((w, reason) => this.workerGone(w, reason));
  }

  private route(m: FromWorker): void {
    if (m.type === 'hello') return;
    this.jobs.get(m.id)?.onMessage(m);
  }

  private workerGone(w: WorkerLink, reason: string): void {
    for (const [key, inst] of this.instances) {
      if (inst.worker !== w) continue;
      clearTimeout(inst.timer);
      this.instances.delete(key);
      // Requests waiting for it move to another instance of the model, if there is one (cluster mode).
      const sibling = this.pick(inst.key);
      if (sibling) {
        for (const waiter of inst.waiters.splice(0)) sibling.waiters.push(waiter);
        continue;
      }
      for (const waiter of inst.waiters.splice(0)) {
        waiter.reject(
          w.stalled
            ? new CorralError(
                'unavailable',
                `the worker running '${inst.target.name}' stopped responding (${reason})`,
              )
            : new CorralError(
                'worker_failed',
                `the worker running '${inst.target.name}' stopped (${reason})`,
              ),
        );
      }
    }
    for (const [, job] of this.jobs) if (job.worker === w) job.onWorkerGone(reason);
  }

  /** Sends one request/response job to a worker; resolves with the first terminal message. */
  private call(
    worker: WorkerLink,
    build: (id: string) => Parameters<WorkerLink['send']>[0],
  ): Promise<FromWorker> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      this.jobs.set(id, {
        worker,
        onMessage: (m) => {
          this.jobs.delete(id);
          resolve(m);
        },
        onWorkerGone: (reason) => {
          this.jobs.delete(id);
          reject(new WorkerGone(reason, worker.stalled === true));
        },
      });
      worker.send(build(id));
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

  /** The instances of one spec key (more than one only in cluster mode, for a busy model). */
  private group(key: string): Instance[] {
    return [...this.instances.values()].filter((i) => i.key === key);
  }

  /** The instance to use for a key: the only one, or the loaded one with the least work. */
  private pick(key: string): Instance | undefined {
    const g = this.group(key);
    if (g.length <= 1) return g[0];
    const loaded = g.filter((i) => i.loaded);
    if (loaded.length === 0) return g[0];
    const work = (i: Instance) => (i.active + i.waiters.length) / i.spec.numParallel;
    return loaded.reduce((a, b) => (work(b) < work(a) ? b : a));
  }

  /** The loaded instance for a target, starting (placing and loading) it if needed. */
  private async instanceFor(t: RunTarget, spec: ModelSpec): Promise<Instance> {
    let inst = this.pick(spec.key);
    if (!inst && this.opts.placement) {
      const bytes = await this.opts.placement.estimate(spec).catch(() => 0);
      // Another request may have started the instance while the estimate was read.
      inst = this.pick(spec.key) ?? this.startInstance(t, spec, bytes);
    }
    if (!inst) inst = this.startInstance(t, spec, 0);
    await inst.ready;
    return inst;
  }

  /** Gets (loading if needed) the instance for a target and reserves one of its sequences. */
  private async acquire(t: RunTarget, signal?: AbortSignal): Promise<Instance> {
    const spec = this.specFor(t);
    const inst = await this.instanceFor(t, spec);
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
        this.maybeReplicate(t, spec);
      });
    } finally {
      this.queued--;
    }
    // The releasing request passed its slot on: active is unchanged.
  }

  /**
   * Cluster mode: when a whole instance's worth of requests (num_parallel) waits for a model whose
   * instances are all busy, a second instance is loaded on another worker where it fits without
   * evicting anything; once loaded it takes over waiting requests. At most one load at a time per
   * model; after a try that found no room, none for REPLICA_BACKOFF_MS.
   */
  private maybeReplicate(t: RunTarget, spec: ModelSpec): void {
    const placement = this.opts.placement;
    if (!placement || this.replicating.has(spec.key)) return;
    const g = this.group(spec.key);
    if (g.some((i) => !i.loaded)) return;
    const waiting = g.reduce((n, i) => n + i.waiters.length, 0);
    if (waiting < spec.numParallel || (this.replicaBackoff.get(spec.key) ?? 0) > Date.now()) return;
    const used = new Set(g.map((i) => i.worker.id));
    const others = this.pool.workers().filter((w) => !used.has(w.id));
    if (others.length === 0) return;
    const noRoom = (why: string) => {
      this.replicaBackoff.set(spec.key, Date.now() + REPLICA_BACKOFF_MS);
      this.logger.log(`no second instance of '${t.name}' (${waiting} waiting): ${why}`);
    };
    this.replicating.add(spec.key);
    void (async () => {
      try {
        const bytes = await placement.estimate(spec).catch(() => 0);
        const order = placement.candidates(spec, bytes, others, { fitting: true });
        if (order.length === 0) return noRoom('no other worker has room');
        this.logger.log(
          `'${t.name}' has ${waiting} requests waiting: loading a second instance on ${order[0]!.id}`,
        );
        const inst = this.startInstance(t, spec, bytes, order);
        await inst.ready;
        // Take over waiting requests from the busy instances.
        for (const sibling of this.group(spec.key)) {
          while (inst.active < spec.numParallel && sibling.waiters.length > 0) {
            inst.active++;
            sibling.waiters.shift()!.resolve(inst);
          }
        }
        if (inst.active === 0) this.armExpiry(inst);
      } catch (e) {
        noRoom(e instanceof Error ? e.message : String(e));
      } finally {
        this.replicating.delete(spec.key);
      }
    })();
  }

  private release(inst: Instance): void {
    inst.lastUsed = Date.now();
    const next = inst.waiters.shift();
    if (next) return next.resolve(inst);
    inst.active--;
    if (inst.active === 0) this.armExpiry(inst);
  }

  private armExpiry(inst: Instance): void {
    clearTimeout(inst.timer);
    if (inst.keepAliveMs < 0 || this.isPinned(inst)) {
      inst.expiresAt = FOREVER;
      return;
    }
    inst.expiresAt = Date.now() + inst.keepAliveMs;
    inst.timer = setTimeout(() => void this.unloadInstance(inst), inst.keepAliveMs);
    inst.timer.unref();
  }

  private isPinned(inst: Instance): boolean {
    return this.opts.pinned?.(inst.target.name) === true;
  }

  private chooseWorker(): WorkerLink {
    const workers = this.pool.workers();
    if (workers.length === 0) throw new CorralError('unavailable', 'no inference worker is running');
    const load = (w: WorkerLink) => [...this.instances.values()].filter((i) => i.worker === w).length;
    return workers.reduce((best, w) => (load(w) < load(best) ? w : best));
  }

  private evictLeastRecentIdle(worker: WorkerLink, except: string): Instance | undefined {
    return [...this.instances.values()]
      .filter(
        (i) =>
          i.worker === worker &&
          i.key !== except &&
          i.active === 0 &&
          i.tokenizing === 0 &&
          i.loaded &&
          !this.isPinned(i),
      )
      .sort((a, b) => a.lastUsed - b.lastUsed)[0];
  }

  /** Starts an instance; `replicaOrder` (a second instance): the workers to try, and nothing evicted for it. */
  private startInstance(t: RunTarget, spec: ModelSpec, bytes: number, replicaOrder?: WorkerLink[]): Instance {
    const order =
      replicaOrder ??
      (this.opts.placement
        ? this.opts.placement.candidates(spec, bytes, this.pool.workers())
        : [this.chooseWorker()]);
    if (order.length === 0) throw new CorralError('unavailable', 'no inference worker is running');
    const slot = replicaOrder ? `${spec.key}#${++this.replicaSeq}` : spec.key;
    const inst: Instance = {
      slot,
      key: spec.key,
      target: t,
      spec,
      worker: order[0]!,
      ready: Promise.resolve(),
      active: 0,
      waiters: new FairQueue(),
      lastUsed: Date.now(),
      keepAliveMs: t.keepAliveMs,
      expiresAt: FOREVER,
      pendingLoadNs: 0,
      tokenizing: 0,
    };
    this.instances.set(slot, inst);
    inst.ready = (async () => {
      try {
        for (let i = 0; ; i++) {
          inst.worker = order[i]!;
          try {
            await this.loadOn(inst, t, spec, replicaOrder !== undefined);
            // A worker that died under an earlier attempt took the instance out of the map.
            if (!this.instances.has(slot)) this.instances.set(slot, inst);
            return;
          } catch (e) {
            // With a placement (cluster), a worker without room or one that died is not the end:
            // the next candidate is tried.
            const retryable =
              e instanceof LoadRefused ||
              e instanceof WorkerGone ||
              (e instanceof CorralError && e.code === 'worker_failed');
            if (!this.opts.placement || !retryable || i + 1 >= order.length) {
              if (e instanceof LoadRefused) throw new CorralError('model_load_failed', e.message);
              throw e;
            }
            this.logger.warn(`${e.message}; trying worker ${order[i + 1]!.id}`);
          }
        }
      } catch (e) {
        if (this.instances.get(slot) === inst) this.instances.delete(slot);
        throw e;
      }
    })();
    return inst;
  }

  private async loadOn(inst: Instance, t: RunTarget, spec: ModelSpec, noEvict = false): Promise<void> {
    const worker = inst.worker;
    if (noEvict) {
      const here = [...this.instances.values()].filter((i) => i.worker === worker && i !== inst).length;
      if (here >= this.opts.maxLoadedModels)
        throw new LoadRefused(`worker ${worker.id} already holds ${here} models (OLLAMA_MAX_LOADED_MODELS)`);
    } else await this.makeRoom(worker, spec.key);
    for (let attempt = 0; ; attempt++) {
      const reply = await this.withTimeout(this.call(worker, (id) => ({ type: 'load', id, model: spec })));
      if (reply.type === 'loaded') {
        inst.loaded = reply.model;
        inst.pendingLoadNs = reply.model.loadDurationNs;
        return;
      }
      if (reply.type === 'error' && reply.code === 'out_of_memory') {
        if (attempt === 0 && !noEvict) {
          // Memory is short: free the idle least-recently-used model and try once more.
          const victim = this.evictLeastRecentIdle(worker, spec.key);
          if (victim) {
            await this.unloadInstance(victim);
            continue;
          }
        }
        throw new LoadRefused(`failed to load model '${t.name}': ${reply.message}`);
      }
      const msg = reply.type === 'error' ? reply.message : `unexpected reply ${reply.type}`;
      throw new CorralError('model_load_failed', `failed to load model '${t.name}': ${msg}`);
    }
  }

  private async makeRoom(worker: WorkerLink, key: string): Promise<void> {
    // The instance being started is already in the map: count only the others.
    const others = () => [...this.instances.values()].filter((i) => i.worker === worker && i.key !== key);
    while (others().length >= this.opts.maxLoadedModels) {
      const idle = this.evictLeastRecentIdle(worker, key);
      if (!idle) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      this.logger.log(`evicting idle model ${idle.target.name} (max loaded models reached)`);
      await this.unloadInstance(idle);
    }
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new CorralError('model_load_failed', 'timed out waiting for the model to load')),
        this.opts.loadTimeoutMs,
      );
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  private async unloadInstance(inst: Instance): Promise<void> {
    clearTimeout(inst.timer);
    if (this.instances.get(inst.slot) !== inst || inst.active > 0 || inst.tokenizing > 0) return;
    this.instances.delete(inst.slot);
    try {
      await this.call(inst.worker, (id) => ({ type: 'unload', id, key: inst.key }));
    } catch {
      // The worker is gone, and the model with it.
    }
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
    this.jobs.set(id, {
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
        const job = this.jobs.get(id);
        if (job) {
          job.onMessage = (m) => {
            if (m.type === 'done' || m.type === 'error') {
              this.jobs.delete(id);
              this.release(inst);
            }
          };
          job.onWorkerGone = () => this.jobs.delete(id);
        }
      } else {
        this.jobs.delete(id);
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
      const reply = await this.call(inst.worker, (id) => ({
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
    const inst = await this.instanceFor(t, this.specFor(t));
    clearTimeout(inst.timer);
    inst.tokenizing++;
    try {
      const reply = await this.call(inst.worker, (id) => ({ type: 'tokenize', id, model: inst.spec, text }));
      if (reply.type === 'tokenized') return reply.tokens;
      throw new CorralError('worker_failed', reply.type === 'error' ? reply.message : 'tokenize failed');
    } finally {
      inst.tokenizing--;
      if (inst.active === 0 && inst.tokenizing === 0 && this.instances.get(inst.slot) === inst)
        this.armExpiry(inst);
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
      [...this.instances.values()]
        .filter((i) => i.target.name === name && !this.isPinned(i))
        .map(async (i) => {
          i.keepAliveMs = 0;
          if (i.active === 0) await this.unloadInstance(i);
        }),
    );
  }

  /** Unloads instances of any model whose digest is no longer served (after delete). */
  async unloadDigest(digest: string): Promise<void> {
    await Promise.all(
      [...this.instances.values()]
        .filter((i) => i.target.info.digest === digest)
        .map((i) => this.unloadInstance(i)),
    );
  }

  ps(): RunningModel[] {
    return [...this.instances.values()]
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
    return [...this.instances.values()].map((i) => ({
      name: i.target.name,
      active: i.active,
      waiting: i.waiters.length,
      workerId: i.worker.id,
    }));
  }
}
