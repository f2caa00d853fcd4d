import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { LlamaContext, LlamaContextSequence, SequenceEvaluateOptions, Token } from 'node-llama-cpp';
import {
  nativeDecodeAddon,
  nativeDecodeLoadError,
  type NativeBinding,
  type NativeDecodeAddon,
} from './native-decode';

/**
 * The generation loop of one context, one level below node-llama-cpp's sequence API.
 *
 * node-llama-cpp generates with one async generator per sequence: every token of every sequence goes
 * through its own queue entry, lock, sampler call and several promise hops, and its dispatcher decodes
 * whatever happens to be queued when the previous decode returns. Measured (docs/performance.md): with
 * 4 streams most steps decoded 1–3 tokens instead of 4, so the aggregate stayed at one stream's speed,
 * and on a tiny model the per-token orchestration cost more than the forward pass.
 *
 * This loop does what llama-server's does. Every step puts the next token of **every** active sequence
 * into one native batch, decodes it once, samples each sequence from its row of logits, and starts the
 * next step; the consumers (detokenising, stop strings, IPC) see a step's tokens while the next step's
 * decode is already running on the llama.cpp thread. A newly arriving sequence's prompt goes into the
 * same batches as the running sequences' next tokens (up to n_batch tokens a step, a long prompt over
 * several steps, as in llama-server), so a new prompt never stalls the streams already running for a
 * whole prompt evaluation. The step holds node-llama-cpp's own context lock, and each sequence's token
 * list and position are kept as node-llama-cpp keeps them, so prefix reuse, erasing and everything else
 * of the sequence API keeps working on the same sequences.
 *
 * Native runs: while every generating sequence of a context is past its prompt (and each qualifies,
 * see `nativeEligible`), the step hands them all to Corral's native loop (native/decode-loop.cc) where
 * that is built: one batch with every sequence's next token, decode, sample each, next batch, on one
 * native thread with no JavaScript in between, as in llama-server; each token reaches JavaScript while
 * the next decode runs. Driven from here, every step costs a hand-off to the JS thread and back, which
 * on a small model is 3–15% of a token (docs/performance.md). A run stops after the step during which a
 * new sequence arrives (its prompt then goes into the loop's batches here), a consumer leaves, a signal
 * aborts, someone wants the context lock (`yieldContext`) or NATIVE_RUN_BUDGET_MS passes, and the loop
 * carries on from the tokens it stopped on; the context lock is released between runs as between steps,
 * so other node-llama-cpp calls on the context wait no longer than one step.
 *
 * Threads: a step decodes with the thread count node-llama-cpp last set on the context (the context's
 * own count, unless node-llama-cpp's thread splitter shared threads between contexts for a prompt). The
 * loop does not take part in that splitter: waiting for a thread allocation while holding the context
 * lock deadlocked as soon as three models were loaded in one worker.
 *
 * It uses node-llama-cpp internals (the addon context's batch calls, the addon sampler, the sampler
 * config resolver). `forContext` checks they are all there and returns null otherwise (another
 * node-llama-cpp version, a recurrent or sliding-window model that needs KV checkpoints, Vulkan, which
 * needs node-llama-cpp's cross-context decode lock); generation then uses the sequence API as before.
 */
export class DecodeLoop {
  private readonly active = new Set<DecodeStream>();
  private running = false;
  /**
   * Decode steps run and the sequence rows they decoded (rows / steps = the average batch), the steps
   * decoded with the batch threads, and the native runs with their steps and rows (included in the
   * totals).
   */
  readonly stats = { steps: 0, rows: 0, batchThreadSteps: 0, nativeRuns: 0, nativeSteps: 0, nativeTokens: 0 };
  /** Set while a native run goes on: the loop's means to stop it early. */
  private nativeRunning = false;

  private constructor(
    private readonly context: InternalContext,
    private readonly withLock: WithLock,
    private readonly chainSamples: boolean,
    /** llama.cpp threads for a step that carries PREFILL_STEP_TOKENS prompt tokens or more. */
    readonly batchThreads: number,
    private readonly native: { addon: NativeDecodeAddon; binding: NativeBinding } | null,
    /** Why the native loop is not used (null when it is). */
    readonly nativeUnavailable: string | null,
    private readonly nativeRunBudgetMs: number,
  ) {}

  /**
   * Someone is about to take the context lock (node-llama-cpp's erase, clearHistory, a dispose) or a
   * new stream arrived: a native run stops after the step it is on, so the wait is one step rather
   * than NATIVE_RUN_BUDGET_MS.
   */
  yieldContext(): void {
    if (this.nativeRunning && this.native) this.native.addon.interrupt(this.native.binding);
  }

  /** Whether streams past their prompts run on the native loop. */
  get usesNative(): boolean {
    return this.native !== null;
  }

  /** A loop for this context, or null where node-llama-cpp's internals are not as this code expects. */
  static async forContext(
    context: LlamaContext,
    options: DecodeLoopOptions = {},
  ): Promise<DecodeLoop | null> {
    const ctx = context as unknown as InternalContext;
    const native = ctx._ctx as Partial<InternalContext['_ctx']> | undefined;
    const supported =
      typeof native?.initBatch === 'function' &&
      typeof native.addToBatch === 'function' &&
      typeof native.decodeBatch === 'function' &&
      typeof native.sampleToken === 'function' &&
      typeof native.getThreads === 'function' &&
      typeof native.setThreads === 'function' &&
      typeof ctx._llama?._bindings?.AddonSampler === 'function' &&
      typeof ctx._model?._model === 'object' &&
      typeof ctx._backendContextDisposeGuard?.createPreventDisposalHandle === 'function' &&
      typeof ctx._backendContextDisposeGuard.acquireDisposeLock === 'function' &&
      ctx._llama.gpu !== 'vulkan';
    if (!supported) return null;
    const withLock = await loadWithLock();
    const batchThreads = Math.max(options.batchThreads ?? 0, native.getThreads?.() ?? 0);
    if (!withLock) return null;
    let bound: { addon: NativeDecodeAddon; binding: NativeBinding } | null = null;
    let why: string | null = 'not asked for';
    if (options.native) {
      const addon = nativeDecodeAddon();
      if (!addon) why = nativeDecodeLoadError() ?? 'the native decode addon did not load';
      else {
        const sampler = new ctx._llama._bindings.AddonSampler(ctx._model._model);
        try {
          const binding = addon.bind(
            ctx._ctx,
            ctx._model._model,
            sampler,
            context.contextSize,
            context.totalSequences,
          );
          if (typeof binding === 'string') why = binding;
          else {
            bound = { addon, binding };
            why = null;
          }
        } finally {
          sampler.dispose();
        }
      }
    }
    const budget = options.nativeRunBudgetMs ?? NATIVE_RUN_BUDGET_MS;
    const loop = new DecodeLoop(
      ctx,
      withLock,
      options.chainSamples === true,
      batchThreads,
      bound,
      why,
      budget,
    );
    if (bound) {
      // Disposing waits for the run to let go of the context: ask it to, as an erase does.
      const guard = ctx._backendContextDisposeGuard;
      const acquire = guard.acquireDisposeLock.bind(guard);
      guard.acquireDisposeLock = () => {
        loop.yieldContext();
        return acquire();
      };
    }
    return loop;
  }

  /** Whether this sequence can be driven by the loop (see the class comment for when it cannot). */
  supports(sequence: LlamaContextSequence): boolean {
    const seq = sequence as unknown as InternalSequence;
    return (
      typeof seq._sequenceId === 'number' &&
      typeof seq._nextTokenIndex === 'number' &&
      Array.isArray(seq._contextTokens) &&
      typeof seq._resolveSamplerConfig === 'function' &&
      (seq._loadedTokenPredictions?.length ?? 0) === 0 &&
      !sequence.needsCheckpoints
    );
  }

  /**
   * Evaluates `tokens` (the prompt tokens the sequence does not hold yet, at least one) into `sequence`
   * and generates from it. Yields each sampled token; ends after a token `isFinal` accepts (it is
   * yielded, never decoded), after `maxTokens` tokens, when the sequence holds `contextLimit` tokens,
   * or, without an error, once `signal` aborts. Breaking out of the loop detaches the sequence: the
   * returned promise settles only once no step uses it any more, so the caller may hand the sequence to
   * the next job right after. Tokens beyond the last one the caller took may have been decoded into
   * the sequence (one in flight when it broke off; on the native loop, those decoded before the run
   * noticed); they are in the sequence's token list, so its KV cache and token list always agree.
   */
  async *generate(
    sequence: LlamaContextSequence,
    tokens: readonly Token[],
    options: DecodeStreamOptions,
  ): AsyncGenerator<Token> {
    if (tokens.length === 0) throw new Error('DecodeLoop.generate needs at least one token to evaluate');
    const seq = sequence as unknown as InternalSequence;
    const sampler = new this.context._llama._bindings.AddonSampler(this.context._model._model);
    const stream = new DecodeStream(seq, tokens, options, sampler);
    this.active.add(stream);
    this.yieldContext();
    if (!this.running) void this.run();
    try {
      for (;;) {
        const token = await stream.take();
        if (token === null) return;
        yield token;
      }
    } finally {
      await stream.detach();
      sampler.dispose();
    }
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.active.size > 0) {
        await this.withLock([this.context, 'context'], () => this.step());
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * One decode: the next token of every generating sequence, then as many prompt tokens of arriving
   * sequences as the batch has room for (in arrival order; a long prompt continues next step, as in
   * llama-server), then one sample per sequence whose tokens are all in.
   */
  private async step(): Promise<void> {
    const ready: DecodeStream[] = [];
    for (const s of this.active) {
      if (s.options.signal?.aborted) s.cancel();
      if (s.closed) {
        this.active.delete(s);
        s.flush();
        s.settleDetach();
      } else ready.push(s);
    }
    if (ready.length === 0) return;
    if (this.native && ready.every((s) => s.nativeEligible())) {
      // llama.cpp splits a batch into per-sequence KV streams; consecutive ids keep it one micro-batch.
      return this.nativeStep(
        ready.sort((a, b) => a.seq._sequenceId - b.seq._sequenceId),
        this.native,
      );
    }
    let room = Math.max(1, this.context.batchSize);
    const entries: { s: DecodeStream; count: number }[] = [];
    for (const s of ready) {
      if (s.pending.length !== 1 || room === 0) continue;
      entries.push({ s, count: 1 });
      room -= 1;
    }
    for (const s of ready) {
      if (s.pending.length === 1 || room === 0) continue;
      const count = Math.min(s.pending.length, room);
      entries.push({ s, count });
      room -= count;
    }
    // llama.cpp splits a batch into per-sequence KV streams; consecutive ids keep it one micro-batch.
    entries.sort((a, b) => a.s.seq._sequenceId - b.s.seq._sequenceId);

    const native = this.context._ctx;
    let guard: { dispose(): void } | undefined;
    // A step that is mostly prompt is one long stretch of arithmetic: it gets the batch threads
    // (llama.cpp's n_threads_batch; see chooseBatchThreads). Token-by-token steps keep the context's.
    // `restoreThreads` is the context's own count, set again after a step that went wide.
    const promptTokens = entries.reduce((n, e) => n + (e.s.pending.length > 1 ? e.count : 0), 0);
    let restoreThreads: number | undefined;
    if (promptTokens >= PREFILL_STEP_TOKENS) {
      const own = native.getThreads();
      if (this.batchThreads > own) restoreThreads = own;
    }
    const widen = restoreThreads !== undefined;
    try {
      guard = this.context._backendContextDisposeGuard.createPreventDisposalHandle();
      native.initBatch(entries.reduce((n, e) => n + e.count, 0));
      const rows = new Map<DecodeStream, number>();
      for (const { s, count } of entries) {
        const complete = count === s.pending.length;
        const logitRows = native.addToBatch(
          s.seq._sequenceId,
          s.seq._nextTokenIndex,
          Uint32Array.from(s.pending.slice(0, count)),
          complete ? Uint32Array.of(count - 1) : NO_ROWS,
        );
        if (complete) rows.set(s, logitRows[0] as number);
      }
      const toSample = [...rows.keys()];
      const sample = (): Promise<number[]> =>
        Promise.all(
          toSample.map((s) => {
            s.configureSampler();
            return native.sampleToken(rows.get(s) as number, s.sampler);
          }),
        );
      if (widen) native.setThreads(this.batchThreads);
      const decoded = native.decodeBatch();
      // With a one-thread pool the samples are queued now and run right after the decode on that
      // thread (DecodeLoopOptions). A failed decode is reported; its queued samples are ignored.
      const chained = this.chainSamples ? sample() : undefined;
      chained?.catch(() => undefined);
      this.stats.steps += 1;
      this.stats.rows += entries.length;
      if (widen) this.stats.batchThreadSteps += 1;
      // The previous step's tokens reach their consumers while this decode runs on the llama.cpp thread.
      for (const { s } of entries) s.flush();
      await decoded;
      // A decode that returned is progress for every stream on the context, those still waiting for
      // room in the batch included: a wedged context stops them all, a busy one does not.
      for (const s of ready) s.options.onProgress?.();
      for (const { s, count } of entries) s.accepted(count);
      const sampled = await (chained ?? sample());
      toSample.forEach((s, i) => {
        const token = sampled[i] as number;
        if (token === -1) s.fail(new Error('llama.cpp failed to sample the next token'));
        else s.sampled(token as Token);
        if (s.closed) {
          this.active.delete(s);
          s.flush();
          s.settleDetach();
        }
      });
    } catch (e) {
      for (const { s } of entries) {
        s.fail(e);
        this.active.delete(s);
        s.flush();
        s.settleDetach();
      }
    } finally {
      if (restoreThreads !== undefined) native.setThreads(restoreThreads);
      guard?.dispose();
    }
  }

  /**
   * Generates `streams` (every generating sequence of the context, each with its next token sampled and
   * not yet decoded) on the native loop until they end or the run stops early (see the class comment).
   * Tokens are handed over as they come, exactly as a step's are; a stream that ends inside the run is
   * let go at once (the run no longer touches its sequence), so its job does not wait for the others.
   */
  private async nativeStep(
    streams: DecodeStream[],
    native: { addon: NativeDecodeAddon; binding: NativeBinding },
  ): Promise<void> {
    const interrupt = (): void => native.addon.interrupt(native.binding);
    let guard: { dispose(): void } | undefined;
    this.nativeRunning = true;
    for (const s of streams) s.options.signal?.addEventListener('abort', interrupt);
    try {
      // Throws once the context is being disposed: the streams fail instead of touching freed memory.
      guard = this.context._backendContextDisposeGuard.createPreventDisposalHandle();
      const rows = streams.map((s) => {
        s.configureSampler();
        return {
          sampler: s.sampler,
          sequenceId: s.seq._sequenceId,
          position: s.seq._nextTokenIndex,
          token: s.pending[0] as Token,
          maxTokens: s.remainingTokens,
          positionLimit: s.options.contextLimit,
          stopTokens: s.stopTokens as Int32Array,
        };
      });
      // Counted as tokens come (a stream may return to its caller before the run ends).
      let step = 0;
      this.stats.nativeRuns += 1;
      await native.addon.run(native.binding, rows, this.nativeRunBudgetMs, (row, token, rowDone, ofStep) => {
        this.stats.nativeTokens += 1;
        this.stats.rows += 1;
        if (ofStep !== step) {
          step = ofStep;
          this.stats.steps += 1;
          this.stats.nativeSteps += 1;
        }
        const s = streams[row] as DecodeStream;
        s.options.onProgress?.();
        s.accepted(1);
        s.sampled(token as Token);
        s.flush();
        // Let go of a stream only once the run has too; a stream that ended here but not there
        // (its consumer left) stops the run.
        if (s.closed && rowDone) {
          this.active.delete(s);
          s.settleDetach();
        } else if (s.closed) interrupt();
      });
    } catch (e) {
      for (const s of streams) if (!s.closed) s.fail(e);
    } finally {
      this.nativeRunning = false;
      for (const s of streams) s.options.signal?.removeEventListener('abort', interrupt);
      guard?.dispose();
    }
    for (const s of streams) {
      // Streams let go during the run are already out of `active`.
      if (!s.closed || !this.active.has(s)) continue;
      this.active.delete(s);
      s.flush();
      s.settleDetach();
    }
  }
}

/**
 * Longest a native run holds the context (it stops after the step that passes this): the backstop for
 * node-llama-cpp calls on the context that do not ask the run to stop (`yieldContext`).
 */
export const NATIVE_RUN_BUDGET_MS = 100;

/** Prompt tokens in one step from which it decodes with the batch threads. */
export const PREFILL_STEP_TOKENS = 32;

export interface DecodeLoopOptions {
  /**
   * llama.cpp threads for a step carrying PREFILL_STEP_TOKENS prompt tokens or more (never fewer than
   * the context's own). Defaults to the context's own count.
   */
  batchThreads?: number;
  /**
   * Queue each step's samples right behind its decode instead of after it returns. Only correct when
   * libuv's threadpool has exactly one thread (UV_THREADPOOL_SIZE=1): the jobs then run in order on
   * that thread, so a sample never reads logits the decode is still writing. Saves a wake-up of the JS
   * thread and a pool hand-off per step.
   */
  chainSamples?: boolean;
  /**
   * Run the steps of streams past their prompts on Corral's native loop where it is built and binds
   * to this node-llama-cpp (`nativeUnavailable` says why not otherwise).
   */
  native?: boolean;
  /** Longest native run (default NATIVE_RUN_BUDGET_MS). */
  nativeRunBudgetMs?: number;
}

export interface DecodeStreamOptions {
  sampling: Pick<
    SequenceEvaluateOptions,
    | 'temperature'
    | 'minP'
    | 'topK'
    | 'topP'
    | 'seed'
    | 'repeatPenalty'
    | 'tokenBias'
    | 'grammarEvaluationState'
  >;
  maxTokens: number;
  /** Tokens the sequence may hold; generation ends before a decode would exceed it. */
  contextLimit: number;
  /** End-of-generation and stop tokens: yielded, then the stream ends without decoding them. */
  isFinal: (token: Token) => boolean;
  /**
   * The tokens besides the model's end-of-generation tokens that `isFinal` accepts. Given, the stream
   * may run on the native loop, which checks them itself; without them it always runs here.
   */
  stopTokens?: Iterable<Token>;
  /** Ends the stream between steps (a cancel during a long prompt takes effect within one batch). */
  signal?: AbortSignal;
  /**
   * Re-read the sampling options before every token. Needed only when the repeat-penalty window is not
   * the plain last N tokens of the sequence (Ollama's `penalize_newline: false` leaves newlines out).
   */
  refreshSampler?: boolean;
  /** Called after each decode that advanced the context while the stream is in the loop (the job's progress watchdog). */
  onProgress?: () => void;
}

/** One sequence's place in the loop: its next token to decode and the tokens waiting for its consumer. */
class DecodeStream {
  /** Tokens still to decode: the rest of the prompt, then each sampled token in turn. */
  pending: Token[];
  closed = false;
  private configured = false;
  private generated = 0;
  /** Sampled, not yet handed over (they are handed over while the next decode runs). */
  private readonly outbox: Token[] = [];
  private readonly ready: Token[] = [];
  private ended = false;
  private error: unknown;
  private wake?: () => void;
  private detached = false;
  private onDetached?: () => void;
  /** For the native loop: `options.stopTokens`, or null when the stream must run in JavaScript. */
  readonly stopTokens: Int32Array | null;

  constructor(
    readonly seq: InternalSequence,
    tokens: readonly Token[],
    readonly options: DecodeStreamOptions,
    readonly sampler: AddonSampler,
  ) {
    this.pending = [...tokens];
    this.stopTokens =
      options.stopTokens && !options.refreshSampler
        ? Int32Array.from(options.stopTokens as Iterable<number>)
        : null;
  }

  /** Whether the native loop can take the stream now: its prompt is in and nothing needs JavaScript per token. */
  nativeEligible(): boolean {
    return (
      this.stopTokens !== null && this.pending.length === 1 && !this.closed && !this.options.signal?.aborted
    );
  }

  get remainingTokens(): number {
    return this.options.maxTokens - this.generated;
  }

  /**
   * The sampler is configured once: after each sample the addon feeds the chosen token to the sampler's
   * repeat-penalty window and grammar itself, which is exactly the window the next config would carry.
   * Only a window that is not simply "the last N tokens" (`refreshSampler`) is handed over again every
   * token. (node-llama-cpp re-applies the whole config every token; on a small model that cost as much
   * as a third of the worker's JS time.)
   */
  configureSampler(): void {
    if (this.configured && !this.options.refreshSampler) return;
    this.sampler.applyConfig(this.seq._resolveSamplerConfig(this.options.sampling));
    this.configured = true;
  }

  /** The step decoded the first `count` pending tokens: they are now part of the sequence, as node-llama-cpp records it. */
  accepted(count: number): void {
    const done = this.pending.splice(0, count);
    for (const t of done) this.seq._contextTokens.push(t);
    this.seq._nextTokenIndex += done.length;
  }

  sampled(token: Token): void {
    this.generated += 1;
    this.outbox.push(token);
    const full = this.seq._nextTokenIndex + 1 > this.options.contextLimit;
    if (this.options.isFinal(token) || this.generated >= this.options.maxTokens || full) this.finish();
    else this.pending = [token];
  }

  /** Cancelled from outside: ends without an error (the caller reports the cancel). */
  cancel(): void {
    this.finish();
  }

  fail(e: unknown): void {
    this.error ??= e;
    this.finish();
  }

  /** Hands the sampled tokens to the consumer. */
  flush(): void {
    if (this.outbox.length === 0 && !this.ended) return;
    this.ready.push(...this.outbox.splice(0));
    this.wake?.();
  }

  async take(): Promise<Token | null> {
    for (;;) {
      const token = this.ready.shift();
      if (token !== undefined) return token;
      if (this.ended && this.outbox.length === 0) {
        if (this.error !== undefined) throw this.error;
        return null;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** The consumer is done; resolves once no step holds the sequence. */
  detach(): Promise<void> {
    this.closed = true;
    if (this.detached) return Promise.resolve();
    return new Promise((resolve) => (this.onDetached = resolve));
  }

  settleDetach(): void {
    this.detached = true;
    this.onDetached?.();
  }

  private finish(): void {
    this.ended = true;
    this.closed = true;
  }
}

const NO_ROWS = new Uint32Array(0);

type WithLock = <T>(scope: [object, string], callback: () => Promise<T>) => Promise<T>;

/**
 * node-llama-cpp serialises work on a context with lifecycle-utils' `withLock([context, 'context'])`.
 * The loop must take that same lock, from the same module instance node-llama-cpp loaded, so it is
 * resolved from node-llama-cpp's own location rather than from this package's dependencies.
 */
async function loadWithLock(): Promise<WithLock | null> {
  try {
    const fromNodeLlamaCpp = createRequire(require.resolve('node-llama-cpp'));
    const url = pathToFileURL(fromNodeLlamaCpp.resolve('lifecycle-utils')).href;
    const mod = (await import(url)) as { withLock?: WithLock };
    return typeof mod.withLock === 'function' ? mod.withLock : null;
  } catch {
    return null;
  }
}

interface AddonSampler {
  applyConfig(config: object): void;
  dispose(): void;
}

interface InternalContext {
  _ctx: {
    initBatch(size: number): void;
    addToBatch(
      sequenceId: number,
      firstTokenIndex: number,
      tokens: Uint32Array,
      logitIndexes: Uint32Array,
    ): Uint32Array;
    decodeBatch(): Promise<void>;
    sampleToken(batchLogitIndex: number, sampler: AddonSampler): Promise<number>;
    getThreads(): number;
    setThreads(threads: number): void;
  };
  _llama: { gpu: string | false; _bindings: { AddonSampler: new (model: object) => AddonSampler } };
  _model: { _model: object };
  /** Public: most tokens one decode may carry (n_batch). */
  batchSize: number;
  _backendContextDisposeGuard: {
    createPreventDisposalHandle(): { dispose(): void };
    acquireDisposeLock(): Promise<void>;
  };
}

interface InternalSequence {
  _sequenceId: number;
  _nextTokenIndex: number;
  _contextTokens: Token[];
  _loadedTokenPredictions?: unknown[];
  _resolveSamplerConfig(options: DecodeStreamOptions['sampling']): object;
}
