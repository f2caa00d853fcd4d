/**
 * Turns "run model X with these options" into a scheduler target: resolves the name through the
 * registry, merges server defaults < Modelfile PARAMETERs < request options, and picks the load
 * settings (context size, GPU layers, threads). Then starts the run: `start` (generation) and
 * `embed` are the one place a run begins, whichever dialect asked. Shared by the Ollama and OpenAI
 * dialects, which never reach the scheduler themselves.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CorralConfig } from '@corral/config';
import { parseDuration } from '@corral/config';
import { CorralError } from '@corral/common';
import type { ModelRegistry, ResolvedModel } from '@corral/registry';
import {
  type Constraint,
  type GenerationEvent,
  type Prompt,
  type SamplingInput,
} from '@corral/worker-protocol';
import {
  clampToContext,
  toSampling,
  validateOptions,
  type EmbedResult,
  type OllamaOptions,
  type RunningModel,
  type RunTarget,
  type Scheduler,
} from '@corral/dispatch';
import { CONFIG, REGISTRY, SCHEDULER } from '@corral/core';
import type { Meter } from './metering';
import { primed } from './pipeline';

export interface PreparedRun {
  model: ResolvedModel;
  target: RunTarget;
  options: OllamaOptions;
  sampling: SamplingInput;
}

/** What a generation runs, besides its target and sampling. */
export interface GenerationJob {
  prompt: Prompt;
  /** Grammar or JSON-schema constraint on the output. */
  constraint?: Constraint;
  /** Return the token context with the done event (Ollama's /api/generate). */
  returnContext?: boolean;
}

export interface EmbeddingJob {
  inputs: string[];
  truncate: boolean;
  signal?: AbortSignal;
}

@Injectable()
export class RunService {
  constructor(
    @Inject(CONFIG) private readonly config: CorralConfig,
    @Inject(REGISTRY) private readonly registry: ModelRegistry,
    @Inject(SCHEDULER) private readonly scheduler: Scheduler,
  ) {}

  /** keep_alive as sent by a client (duration string or seconds) → ms; absent → server default. */
  keepAliveMs(value: unknown): number {
    if (value === undefined || value === null || value === '') return this.config.keepAliveMs;
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new CorralError(
        'bad_request',
        'keep_alive must be a duration string or a number of seconds',
        'keep_alive',
      );
    }
    const ms = parseDuration(value);
    if (ms === undefined) throw new CorralError('bad_request', `invalid keep_alive '${value}'`, 'keep_alive');
    return ms;
  }

  /** Resolves a model and builds its run target. Throws model_not_found for unknown names. */
  async prepare(name: unknown, requestOptions: unknown, keepAlive: unknown): Promise<PreparedRun> {
    if (typeof name !== 'string' || name.trim() === '') {
      throw new CorralError('bad_request', 'model is required', 'model');
    }
    const options = validateOptions(requestOptions);
    const model = await this.registry.resolve(name);
    const merged: OllamaOptions = { ...model.parameters, ...options };
    const { numCtx, numBatch, numThread } = clampToContext(merged, {
      contextLength: this.config.contextLength,
      trainedContext: model.gguf.contextLength,
    });
    const numGpu = typeof merged.num_gpu === 'number' && merged.num_gpu >= 0 ? merged.num_gpu : 'auto';
    const target: RunTarget = {
      name: model.name,
      info: { digest: model.digest, size: model.size, details: model.details },
      keepAliveMs: this.keepAliveMs(keepAlive),
      spec: {
        path: model.modelPath,
        adapters: model.adapters.map((a) => ({ path: a.path, scale: 1 })),
        numCtx,
        numParallel: this.config.numParallel,
        numGpuLayers: numGpu,
        numBatch,
        numThread,
        useMmap: typeof merged.use_mmap === 'boolean' ? merged.use_mmap : true,
      },
    };
    return { model, target, options: merged, sampling: toSampling(merged, numCtx) };
  }

  /**
   * Starts a metered generation and resolves at its first event. The order matters:
   *
   * - Admission comes first: a refused request (quota, allow-list) must not occupy a sequence,
   *   and its cap on max tokens must reach the sampling the worker sees.
   * - The meter's signal (the client's disconnect) goes with the job, so a client that leaves
   *   while the model is still loading or queued cancels it there too.
   * - `meter.tap` sits between the scheduler and the dialect so every token is counted and the
   *   quota settles at the final event, before the dialect writes its last bytes (the client's
   *   next request already sees the refund).
   * - `primed` holds the reply until the first event: a run that fails before it (load failure,
   *   prompt too long, worker gone) rejects here and becomes an HTTP error in the caller's
   *   dialect; after it, the dialect streams and a failure travels in-band.
   */
  async start(meter: Meter, run: PreparedRun, job: GenerationJob): Promise<AsyncIterable<GenerationEvent>> {
    const { target, sampling } = await meter.admit(run, { prompt: job.prompt });
    return primed(meter.tap(this.scheduler.generate({ ...target, ...job, sampling, signal: meter.signal })));
  }

  /** A metered embedding: admits the inputs, runs them, settles their exact token count. */
  async embed(meter: Meter, run: PreparedRun, job: EmbeddingJob): Promise<EmbedResult> {
    const { target } = await meter.admit(run, { inputs: job.inputs });
    const result = await this.scheduler.embed({ ...target, ...job });
    await meter.embedded(result.promptTokens);
    return result;
  }

  /** Loads a model without running anything (an empty Ollama request); the load time in ns. */
  load(target: RunTarget): Promise<number> {
    return this.scheduler.load(target);
  }

  unload(name: string): Promise<void> {
    return this.scheduler.unload(name);
  }

  /** The loaded models; in cluster mode every worker's, not only this gateway's. */
  ps(): Promise<RunningModel[]> {
    return this.scheduler.psAll();
  }
}
