import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { LlamaContext, LlamaContextSequence, SequenceEvaluateOptions, Token } from 'node-llama-cpp';

/*
 * The node-llama-cpp internals the decode loop drives: the addon context's batch calls, the addon
 * sampler, the sampler config resolver, the context lock and the dispose guard. None of it is public
 * API, so a node-llama-cpp upgrade breaks here first; each probe below answers "not as expected" with
 * null or false, and generation then uses the sequence API as before.
 */

export interface AddonSampler {
  applyConfig(config: object): void;
  dispose(): void;
}

export interface InternalContext {
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

export interface InternalSequence {
  _sequenceId: number;
  _nextTokenIndex: number;
  _contextTokens: Token[];
  _loadedTokenPredictions?: unknown[];
  _resolveSamplerConfig(options: SequenceEvaluateOptions): object;
}

/**
 * The context's internals, or null where they are not all there (another node-llama-cpp version) or
 * the loop cannot use them: Vulkan needs node-llama-cpp's cross-context decode lock.
 */
export function contextInternals(context: LlamaContext): InternalContext | null {
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
  return supported ? ctx : null;
}

/**
 * Whether the sequence's internals are there and it needs nothing the loop does not do: token
 * predictions, or the KV checkpoints of a recurrent or sliding-window model.
 */
export function sequenceSupported(sequence: LlamaContextSequence): boolean {
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

export function sequenceInternals(sequence: LlamaContextSequence): InternalSequence {
  return sequence as unknown as InternalSequence;
}

/** A sampler of node-llama-cpp's addon for the context's model; the caller disposes it. */
export function newSampler(context: InternalContext): AddonSampler {
  return new context._llama._bindings.AddonSampler(context._model._model);
}

/**
 * Calls `hook` whenever someone is about to wait for the context's dispose lock, before they wait:
 * disposing waits for whoever holds the context, and the hook can ask them to let go.
 */
export function beforeDisposeLock(context: InternalContext, hook: () => void): void {
  const guard = context._backendContextDisposeGuard;
  const acquire = guard.acquireDisposeLock.bind(guard);
  guard.acquireDisposeLock = () => {
    hook();
    return acquire();
  };
}

export type WithLock = <T>(scope: [object, string], callback: () => Promise<T>) => Promise<T>;

/**
 * node-llama-cpp serialises work on a context with lifecycle-utils' `withLock([context, 'context'])`.
 * The loop must take that same lock, from the same module instance node-llama-cpp loaded, so it is
 * resolved from node-llama-cpp's own location rather than from this package's dependencies.
 */
export async function loadWithLock(): Promise<WithLock | null> {
  try {
    const fromNodeLlamaCpp = createRequire(require.resolve('node-llama-cpp'));
    const url = pathToFileURL(fromNodeLlamaCpp.resolve('lifecycle-utils')).href;
    const mod = (await import(url)) as { withLock?: WithLock };
    return typeof mod.withLock === 'function' ? mod.withLock : null;
  } catch {
    return null;
  }
}
