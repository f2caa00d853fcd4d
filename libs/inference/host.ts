import type { Llama } from 'node-llama-cpp';
import { runEmbedding } from './embeddings';
import { WorkerJobError, toJobError } from './errors';
import { runGeneration } from './generation';
import { GrammarCache } from './grammar';
import { DEFAULT_JOB_STALL_TIMEOUT_MS, type DecodeLoopChoice, type GpuChoice } from '@corral/config';
import { describeHardware, startLlama } from './hardware';
import { ModelInstance } from './model-instance';
import { type JobProgress, ProgressWatch, UNWATCHED } from './progress-watch';
import {
  type FromWorker,
  FromWorkerSchema,
  type LoadedModel,
  type ModelSpec,
  type ToWorker,
  type WorkerInfo,
  checkToWorker,
} from '@corral/worker-protocol';

/**
 * The worker's settings (the process entry parses them once, `workerSettings()` in @corral/config, and
 * passes them here); the host itself reads no environment.
 */
export interface WorkerHostOptions {
  /** llama.cpp backend (CORRAL_GPU). Defaults to 'auto'. */
  gpu?: GpuChoice;
  /** llama.cpp threads (CORRAL_THREADS). Defaults to a choice from the hardware (see hardware.ts). */
  threads?: number;
  /** llama.cpp threads for prompt batches (CORRAL_BATCH_THREADS). Defaults to a choice from the hardware. */
  batchThreads?: number;
  /** Generation loop (CORRAL_DECODE_LOOP, see decode-loop.ts). Defaults to 'native'. */
  decodeLoop?: DecodeLoopChoice;
  /**
   * Queue a decode step's samples behind its decode: only with a one-thread libuv pool
   * (UV_THREADPOOL_SIZE=1, see DecodeLoopOptions). Defaults to false.
   */
  chainSamples?: boolean;
  /**
   * A job computing (past its wait for a sequence or a model load) that makes no progress for this long
   * fails and `onWedged` listeners run (progress-watch.ts); 0 turns the watch off
   * (CORRAL_JOB_STALL_TIMEOUT). Defaults to 120 s.
   */
  jobStallTimeoutMs?: number;
  /** Diagnostic lines (the process entry prefixes and writes them to stderr). Defaults to nothing. */
  log?: (line: string) => void;
}

interface Runtime {
  llama: Llama;
  threads: number;
  batchThreads: number;
  grammars: GrammarCache;
}

interface Job {
  controller: AbortController;
  modelKey?: string;
  /** Settles once the job has sent its last message. */
  finished: Promise<void>;
}

/**
 * The worker's brain, independent of how messages travel: `handle()` takes gateway messages, results
 * leave through `onMessage` listeners. Every job ends with exactly one `done`/`loaded`/`unloaded`/
 * `embeddings`/`tokenized` or `error` message carrying its id; nothing a job does throws out of here.
 */
export class WorkerHost {
  private readonly listeners = new Set<(m: FromWorker) => void>();
  private readonly shutdownListeners = new Set<() => void>();
  private readonly wedgedListeners = new Set<(jobId: string, silentMs: number) => void>();
  /** Jobs failed by the progress watchdog: whatever they still send is dropped (their error went out). */
  private readonly wedged = new Set<string>();
  private readonly progress?: ProgressWatch;
  private readonly models = new Map<string, Promise<ModelInstance>>();
  private readonly jobs = new Map<string, Job>();
  private readonly log: (line: string) => void;
  private runtime?: Promise<Runtime>;
  private shuttingDown?: Promise<void>;

  constructor(private readonly options: WorkerHostOptions = {}) {
    this.log = options.log ?? (() => undefined);
    const stallMs = options.jobStallTimeoutMs ?? DEFAULT_JOB_STALL_TIMEOUT_MS;
    if (stallMs > 0)
      this.progress = new ProgressWatch({ timeoutMs: stallMs, onStall: (id, ms) => this.jobWedged(id, ms) });
  }

  onMessage(cb: (m: FromWorker) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /**
   * Called once a job has made no progress for the job stall timeout, after its error went out. A
   * native context that stopped mid-decode cannot be trusted: the process entry exits non-zero so that
   * whoever runs the worker restarts it.
   */
  onWedged(cb: (jobId: string, silentMs: number) => void): () => void {
    this.wedgedListeners.add(cb);
    return () => this.wedgedListeners.delete(cb);
  }

  /** Called once everything is disposed after a `shutdown` message. */
  onShutdown(cb: () => void): () => void {
    this.shutdownListeners.add(cb);
    return () => this.shutdownListeners.delete(cb);
  }

  /** Loads llama.cpp and emits `hello`. Jobs handled before this finishes wait for it. */
  async start(): Promise<WorkerInfo> {
    const rt = await this.getRuntime();
    const info = await describeHardware(rt.llama, rt.threads);
    this.emit({ type: 'hello', info });
    return info;
  }

  handle(raw: ToWorker | unknown): void {
    const checked = checkToWorker(raw);
    if (!checked.ok) return this.emit(checked.reply);
    const msg = checked.msg;
    if (this.shuttingDown && msg.type !== 'shutdown' && msg.type !== 'cancel') {
      this.emit({ type: 'error', id: msg.id, code: 'internal', message: 'worker is shutting down' });
      return;
    }
    switch (msg.type) {
      case 'cancel':
        this.jobs.get(msg.id)?.controller.abort(new WorkerJobError('internal', 'cancelled'));
        return;
      case 'shutdown':
        void this.shutdown();
        return;
      case 'load':
        this.track(msg.id, msg.model.key, async () => {
          const { instance } = await this.ensureLoaded(msg.model);
          this.emit({ type: 'loaded', id: msg.id, model: instance.describe() });
        });
        return;
      case 'unload':
        this.track(msg.id, undefined, async () => {
          await this.unload(msg.key);
          this.emit({ type: 'unloaded', id: msg.id, key: msg.key });
        });
        return;
      case 'generate':
        this.track(msg.id, msg.model.key, async (signal, progress) => {
          const { instance, loadDurationNs } = await this.ensureLoaded(msg.model);
          const { grammars } = await this.getRuntime();
          await runGeneration({
            job: msg,
            instance,
            grammars,
            signal,
            emit: (m) => this.emit(m),
            loadDurationNs,
            progress,
          });
        });
        return;
      case 'embed':
        this.track(msg.id, msg.model.key, async (signal, progress) => {
          const { instance, loadDurationNs } = await this.ensureLoaded(msg.model);
          this.emit(await runEmbedding(msg, instance, loadDurationNs, signal, progress));
        });
        return;
      case 'tokenize':
        this.track(msg.id, msg.model.key, async () => {
          const { instance } = await this.ensureLoaded(msg.model);
          this.emit({ type: 'tokenized', id: msg.id, tokens: instance.model.tokenize(msg.text, true) });
        });
        return;
    }
  }

  /** Jobs received and not yet answered with their last message (for heartbeats and logs). */
  get runningJobs(): number {
    return this.jobs.size;
  }

  /** Models currently loaded (for status reports); loads still in progress are left out. */
  async loadedModels(): Promise<LoadedModel[]> {
    const settled = await Promise.allSettled(this.models.values());
    return settled.flatMap((r) =>
      r.status === 'fulfilled' && !r.value.isDisposed ? [r.value.describe()] : [],
    );
  }

  /** Disposes every model and llama.cpp itself. Safe to call more than once. */
  shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      this.progress?.stop();
      for (const job of this.jobs.values())
        job.controller.abort(new WorkerJobError('internal', 'worker is shutting down'));
      await Promise.allSettled([...this.models.keys()].map((key) => this.unload(key)));
      const rt = await this.runtime?.catch(() => undefined);
      await rt?.llama.dispose();
      this.log('shut down');
      for (const cb of this.shutdownListeners) cb();
    })();
    return this.shuttingDown;
  }

  private getRuntime(): Promise<Runtime> {
    this.runtime ??= (async () => {
      const started = await startLlama({
        gpu: this.options.gpu ?? 'auto',
        threads: this.options.threads,
        batchThreads: this.options.batchThreads,
        log: this.log,
      });
      return { ...started, grammars: new GrammarCache(started.llama) };
    })();
    return this.runtime;
  }

  /** Same key = same instance: concurrent loads share one promise, so weights load once. */
  private async ensureLoaded(spec: ModelSpec): Promise<{ instance: ModelInstance; loadDurationNs: number }> {
    const existing = this.models.get(spec.key);
    if (existing) {
      const instance = await existing;
      return { instance, loadDurationNs: 0 };
    }
    const pending = this.getRuntime().then((rt) =>
      ModelInstance.load({
        llama: rt.llama,
        spec,
        threads: rt.threads,
        batchThreads: rt.batchThreads,
        decodeLoop: this.options.decodeLoop ?? 'native',
        chainSamples: this.options.chainSamples ?? false,
        log: this.log,
      }),
    );
    this.models.set(spec.key, pending);
    try {
      const instance = await pending;
      return { instance, loadDurationNs: instance.loadDurationNs };
    } catch (e) {
      if (this.models.get(spec.key) === pending) this.models.delete(spec.key);
      throw e;
    }
  }

  /**
   * Jobs still running on the model end as 'cancelled' first: the gateway asks to unload only models it
   * no longer schedules on, so anything still running was abandoned.
   */
  private async unload(key: string): Promise<void> {
    const pending = this.models.get(key);
    if (!pending) return;
    this.models.delete(key);
    const running = [...this.jobs.values()].filter((job) => job.modelKey === key);
    for (const job of running) job.controller.abort(new WorkerJobError('internal', `model ${key} unloaded`));
    // Aborted jobs stop within a token; disposing under them would turn 'cancelled' into engine errors.
    await Promise.allSettled(running.map((job) => job.finished));
    const instance = await pending.catch(() => undefined);
    await instance?.dispose();
    this.log(`unloaded ${key}`);
  }

  private track(
    id: string,
    modelKey: string | undefined,
    work: (signal: AbortSignal, progress: JobProgress) => Promise<void>,
  ): void {
    if (this.jobs.has(id)) {
      this.emit({ type: 'error', id, code: 'bad_request', message: `job id ${id} is already running` });
      return;
    }
    const controller = new AbortController();
    const job: Job = { controller, modelKey, finished: Promise.resolve() };
    this.jobs.set(id, job);
    const progress = this.progress?.begin(id) ?? UNWATCHED;
    job.finished = work(controller.signal, progress)
      .catch((e: unknown) => {
        const err = toJobError(e);
        if (err.code === 'internal')
          this.log(`job ${id} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        this.emit({ type: 'error', id, code: err.code, message: err.message });
      })
      .finally(() => {
        this.jobs.delete(id);
        this.progress?.end(id);
      });
  }

  private jobWedged(id: string, silentMs: number): void {
    const seconds = Math.round(silentMs / 1000);
    this.log(
      `job ${id} made no progress for ${seconds} s (CORRAL_JOB_STALL_TIMEOUT); the worker is restarted`,
    );
    this.emit({
      type: 'error',
      id,
      code: 'internal',
      message: `inference job made no progress for ${Math.round((this.progress?.timeoutMs ?? silentMs) / 1000)}s; the worker is restarted`,
    });
    this.wedged.add(id);
    this.jobs.get(id)?.controller.abort(new WorkerJobError('internal', 'job made no progress'));
    for (const cb of this.wedgedListeners) cb(id, silentMs);
  }

  private emit(msg: FromWorker): void {
    if (this.wedged.size > 0 && 'id' in msg && this.wedged.has(msg.id)) return;
    // Chunks (one per token) are built in one place from typed values; a schema pass on each was ~3% of
    // the worker's JS time at 16 streams (docs/performance.md), so only the other messages are checked.
    if (msg.type === 'chunk') return this.deliver(msg);
    // Our own output is checked against the contract too: a malformed message would be rejected by the
    // gateway far from its cause.
    const checked = FromWorkerSchema.safeParse(msg);
    const out: FromWorker = checked.success
      ? checked.data
      : {
          type: 'error',
          id: 'id' in msg ? msg.id : '',
          code: 'internal',
          message: `worker produced an invalid ${msg.type} message`,
        };
    if (!checked.success) this.log(`invalid outgoing ${msg.type}: ${checked.error.message}`);
    this.deliver(out);
  }

  private deliver(out: FromWorker): void {
    for (const cb of this.listeners) {
      try {
        cb(out);
      } catch (e) {
        this.log(`message listener failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
