import type { LlamaContext, LlamaContextSequence, Token } from 'node-llama-cpp';
import { DecodeStream, type DecodeStreamOptions } from './decode-stream';
import {
  beforeDisposeLock,
  contextInternals,
  loadWithLock,
  newSampler,
  sequenceInternals,
  sequenceSupported,
  type InternalContext,
  type WithLock,
} from './llama-internals';
import {
  nativeDecodeAddon,
  nativeDecodeLoadError,
  type NativeBinding,
  type NativeDecodeAddon,
} from './native-decode';

/**
 * The generation loop of one context, one level below node-llama-cpp's sequence API: each step decodes
 * the next token of every active sequence in one batch, natively where it can. How and why, and when the
 * native loop runs or stops: docs/performance.md, "How the decode loop works".
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
    const ctx = contextInternals(context);
    if (!ctx) return null;
    const withLock = await loadWithLock();
    const batchThreads = Math.max(options.batchThreads ?? 0, ctx._ctx.getThreads());
    if (!withLock) return null;
    let bound: { addon: NativeDecodeAddon; binding: NativeBinding } | null = null;
    let why: string | null = 'not asked for';
    if (options.native) {
      const addon = nativeDecodeAddon();
      if (!addon) why = nativeDecodeLoadError() ?? 'the native decode addon did not load';
      else {
        const sampler = newSampler(ctx);
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
      beforeDisposeLock(ctx, () => loop.yieldContext());
    }
    return loop;
  }

  /** Whether this sequence can be driven by the loop (see `sequenceSupported` for when it cannot). */
  supports(sequence: LlamaContextSequence): boolean {
    return sequenceSupported(sequence);
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
    const sampler = newSampler(this.context);
    const stream = new DecodeStream(sequenceInternals(sequence), tokens, options, sampler);
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
   * not yet decoded) on the native loop until they end or the run stops early (docs/performance.md).
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

const NO_ROWS = new Uint32Array(0);
