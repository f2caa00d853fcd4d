import type { ChatWrapper, Llama, LlamaContext, LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp';
import { availableParallelism } from 'node:os';
import { MAX_NUM_CTX } from '@corral/worker-protocol';
import { DecodeLoop } from './decode-loop';
import type { DecodeLoopChoice } from './hardware';
import { WorkerJobError, toJobError } from './errors';
import { loadNodeLlamaCpp } from './llama-module';
import type { LoadedModel, ModelSpec } from '@corral/worker-protocol';
import { SequencePool } from './sequence-pool';

export interface ModelInstanceOptions {
  llama: Llama;
  spec: ModelSpec;
  /** The worker's default thread count (used when the spec says numThread 0). */
  threads: number;
  /** The worker's thread count for prompt batches (the spec's numThread, when set, is used for both). */
  batchThreads?: number;
  /**
   * `native` and `batched` generate through DecodeLoop where the context supports it (`native` with
   * its native loop for streams past their prompts, where built); `sequence` uses node-llama-cpp's sequence API.
   */
  decodeLoop?: DecodeLoopChoice;
  /** The worker's libuv threadpool has one thread: the decode loop may queue samples behind decodes. */
  chainSamples?: boolean;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/**
 * One loaded model: weights, one generation context with `numParallel` sequences of `numCtx` tokens
 * each, and (on first use) an embedding context. It owns them all; `dispose()` cascades through the
 * model, which disposes every context created from it.
 */
export class ModelInstance {
  readonly pool: SequencePool;
  private embeddingContext?: Promise<LlamaEmbeddingContext>;
  private readonly wrappers = new Map<string, ChatWrapper>();
  private disposed = false;

  private constructor(
    readonly spec: ModelSpec,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    /** Null when the GGUF has no chat template (see prompt.ts for the fallback). */
    private readonly resolveWrapper: WrapperResolver | null,
    readonly threads: number,
    readonly loadDurationNs: number,
    /** Batched generation below node-llama-cpp's sequence API; null where it cannot be used (decode-loop.ts). */
    readonly decodeLoop: DecodeLoop | null,
  ) {
    this.pool = new SequencePool(
      Array.from({ length: context.totalSequences }, () =>
        // Context shift would silently drop the start of the conversation; the generation loop stops
        // with doneReason 'length' at a full context instead, as the protocol promises.
        context.getSequence({ contextShift: { size: 0 } }),
      ),
    );
  }

  static async load(opts: ModelInstanceOptions): Promise<ModelInstance> {
    const { llama, spec, log } = opts;
    const started = process.hrtime.bigint();
    // The gateway bounds these (libs/dispatch/limits.ts); a job from elsewhere is held to them here.
    if (spec.numCtx > MAX_NUM_CTX)
      throw new WorkerJobError('bad_request', `numCtx ${spec.numCtx} is more than ${MAX_NUM_CTX}`);
    // More threads than cores only adds contention (and 1e6 threads would exhaust the process).
    const maxThreads = Math.max(opts.threads, availableParallelism());
    const requestedThreads = spec.numThread > 0 ? Math.min(spec.numThread, maxThreads) : 0;
    let model: LlamaModel;
    try {
      model = await llama.loadModel({
        modelPath: spec.path,
        gpuLayers: spec.numGpuLayers,
        useMmap: spec.useMmap,
        loadSignal: opts.signal,
      });
    } catch (e) {
      const err = toJobError(e, 'model_load_failed');
      if (err.code === 'internal') throw new WorkerJobError('model_load_failed', err.message);
      throw new WorkerJobError(
        err.code === 'out_of_memory' ? 'out_of_memory' : 'model_load_failed',
        `cannot load model "${spec.name}" from ${spec.path}: ${err.message}`,
      );
    }
    try {
      const threads = requestedThreads > 0 ? requestedThreads : opts.threads;
      if (threads > llama.maxThreads && llama.maxThreads !== 0) llama.maxThreads = threads;
      const context = await model.createContext({
        sequences: spec.numParallel,
        // Per sequence: node-llama-cpp allocates contextSize × sequences KV cells.
        contextSize: spec.numCtx,
        batchSize: spec.numBatch === undefined ? undefined : Math.min(spec.numBatch, spec.numCtx),
        threads,
        createSignal: opts.signal,
        lora:
          spec.adapters.length > 0
            ? { adapters: spec.adapters.map((a) => ({ filePath: a.path, scale: a.scale })) }
            : undefined,
        // Fail instead of shrinking: the gateway schedules by the numCtx it asked for.
        failedCreationRemedy: false,
      });
      const resolveWrapper = await templateWrapperResolver(model);
      const decodeLoop =
        opts.decodeLoop === 'sequence'
          ? null
          : await DecodeLoop.forContext(context, {
              chainSamples: opts.chainSamples === true,
              native: (opts.decodeLoop ?? 'native') === 'native',
              // Never below the context's own count: the loop itself keeps to that.
              batchThreads: requestedThreads > 0 ? requestedThreads : opts.batchThreads,
            });
      const chatWrapper = resolveWrapper?.(undefined);
      const loadDurationNs = Number(process.hrtime.bigint() - started);
      log(
        `loaded ${spec.name} (${spec.key}): gpuLayers=${model.gpuLayers} ctx=${context.contextSize}x${spec.numParallel} ` +
          `threads=${threads}${decodeLoop && decodeLoop.batchThreads !== threads ? `/${decodeLoop.batchThreads} for prompts` : ''} template=${chatWrapper?.wrapperName ?? 'none'} decode=${describeLoop(decodeLoop, opts)} in ${(loadDurationNs / 1e6).toFixed(0)} ms`,
      );
      return new ModelInstance(spec, model, context, resolveWrapper, threads, loadDurationNs, decodeLoop);
    } catch (e) {
      await model.dispose();
      const err = toJobError(e, 'model_load_failed');
      throw new WorkerJobError(
        err.code === 'out_of_memory' ? 'out_of_memory' : 'model_load_failed',
        `cannot create a context for "${spec.name}" (numCtx ${spec.numCtx} × numParallel ${spec.numParallel}): ${err.message}`,
      );
    }
  }

  /**
   * The template wrapper for a request's `think` setting (undefined = the template's default), or null
   * for a model without a chat template. Wrappers are cached: resolving one parses the template.
   */
  chatWrapperFor(think: boolean | undefined): ChatWrapper | null {
    if (!this.resolveWrapper) return null;
    const key = String(think);
    let wrapper = this.wrappers.get(key);
    if (!wrapper) {
      wrapper = this.resolveWrapper(think);
      this.wrappers.set(key, wrapper);
    }
    return wrapper;
  }

  describe(): LoadedModel {
    const ram = this.model.memoryUsage.ram + this.context.memoryUsage.ram;
    const vram = this.model.memoryUsage.vram + this.context.memoryUsage.vram;
    return {
      key: this.spec.key,
      sizeBytes: Math.max(ram + vram, this.model.size + this.context.stateSize),
      vramBytes: vram,
      gpuLayers: this.model.gpuLayers,
      numCtx: this.context.contextSize,
      numParallel: this.context.totalSequences,
      loadDurationNs: this.loadDurationNs,
    };
  }

  /** Created on first use: most models serve only generation or only embeddings. */
  getEmbeddingContext(): Promise<{ context: LlamaEmbeddingContext; contextSize: number }> {
    const contextSize = Math.min(this.spec.numCtx, this.model.trainContextSize || this.spec.numCtx);
    this.embeddingContext ??= this.model.createEmbeddingContext({
      contextSize,
      // Pooled embeddings need the whole input in one batch.
      batchSize: contextSize,
      threads: this.threads,
    });
    const pending = this.embeddingContext;
    pending.catch(() => {
      if (this.embeddingContext === pending) this.embeddingContext = undefined;
    });
    return pending.then((context) => ({ context, contextSize }));
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.pool.close(new WorkerJobError('internal', `model "${this.spec.name}" was unloaded`));
    await this.model.dispose();
  }
}

type WrapperResolver = (think: boolean | undefined) => ChatWrapper;

/**
 * Uses the template in the GGUF metadata through node-llama-cpp, which swaps in a specialised wrapper
 * when it recognises the template (better tool-call handling) and otherwise renders the Jinja template
 * itself. Without a template, resolveChatWrapper would guess a format from the model's name; a guess is
 * worse than the explicit plain fallback, so no template means null here.
 * `think` maps onto the wrappers that have a reasoning switch: Jinja templates get `enable_thinking`
 * through `reasoning`, Qwen's wrapper discourages thoughts when thinking is off.
 */
async function templateWrapperResolver(model: LlamaModel): Promise<WrapperResolver | null> {
  const template = model.fileInfo.metadata.tokenizer?.chat_template;
  if (typeof template !== 'string' || template.trim() === '') return null;
  const { resolveChatWrapper } = await loadNodeLlamaCpp();
  return (think) =>
    resolveChatWrapper(model, {
      warningLogs: false,
      customWrapperSettings:
        think === undefined
          ? undefined
          : { jinjaTemplate: { reasoning: think }, qwen: { thoughts: think ? 'auto' : 'discourage' } },
    });
}

/** The worker log's `decode=` field: which loop generates, and why not the native one where asked for. */
function describeLoop(loop: DecodeLoop | null, opts: ModelInstanceOptions): string {
  if (!loop) return 'sequence-api';
  const batched = `batched${opts.chainSamples ? ' (samples chained)' : ''}`;
  if (loop.usesNative) return `native+${batched}`;
  return (opts.decodeLoop ?? 'native') === 'native'
    ? `${batched}; native loop unavailable: ${loop.nativeUnavailable}`
    : batched;
}
