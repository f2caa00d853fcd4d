/**
 * Turns "run model X with these options" into a scheduler target: resolves the name through the
 * registry, merges server defaults < Modelfile PARAMETERs < request options, and picks the load
 * settings (context size, GPU layers, threads). Shared by the Ollama and OpenAI dialects.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CorralConfig } from '@corral/config';
import { parseDuration } from '@corral/config';
import { CorralError } from '@corral/common';
import type { ModelRegistry, ResolvedModel } from '@corral/registry';
import {
  clampToContext,
  toSampling,
  validateOptions,
  type OllamaOptions,
  type RunTarget,
  type SamplingInput,
  type Scheduler,
} from '@corral/dispatch';
import { CONFIG, REGISTRY, SCHEDULER } from './tokens';

export interface PreparedRun {
  model: ResolvedModel;
  target: RunTarget;
  options: OllamaOptions;
  sampling: SamplingInput;
}

@Injectable()
export class RunService {
  constructor(
    @Inject(CONFIG) private readonly config: CorralConfig,
    @Inject(REGISTRY) readonly registry: ModelRegistry,
    @Inject(SCHEDULER) readonly scheduler: Scheduler,
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
}
