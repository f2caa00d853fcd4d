/**
 * Ollama's option names (Modelfile PARAMETER, request `options`) mapped onto the job protocol:
 * sampling for the generation, and load settings (num_ctx, num_gpu, ...) for the model instance.
 * Request options override the model's parameters, which override the server defaults.
 */
import { CorralError } from '@corral/common';
import type { SamplingInput } from './protocol';

/** Ollama option names and the JS type each must have. */
const OPTION_TYPES: Record<string, 'number' | 'int' | 'boolean' | 'string[]'> = {
  num_keep: 'int',
  seed: 'int',
  num_predict: 'int',
  top_k: 'int',
  top_p: 'number',
  min_p: 'number',
  typical_p: 'number',
  repeat_last_n: 'int',
  temperature: 'number',
  repeat_penalty: 'number',
  presence_penalty: 'number',
  frequency_penalty: 'number',
  penalize_newline: 'boolean',
  stop: 'string[]',
  mirostat: 'int',
  mirostat_tau: 'number',
  mirostat_eta: 'number',
  tfs_z: 'number',
  num_ctx: 'int',
  num_batch: 'int',
  num_gpu: 'int',
  main_gpu: 'int',
  use_mmap: 'boolean',
  use_mlock: 'boolean',
  num_thread: 'int',
  low_vram: 'boolean',
  f16_kv: 'boolean',
  logits_all: 'boolean',
  vocab_only: 'boolean',
  numa: 'boolean',
};

export type OllamaOptions = Record<string, unknown>;

/** Validates a request's `options` object; unknown names and wrong types are 400s naming the option. */
export function validateOptions(options: unknown): OllamaOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new CorralError('bad_request', 'options must be an object', 'options');
  }
  const out: OllamaOptions = {};
  for (const [name, value] of Object.entries(options as Record<string, unknown>)) {
    const type = OPTION_TYPES[name];
    if (!type) throw new CorralError('bad_request', `unknown option '${name}'`, 'options');
    if (value === null) continue;
    const bad = () => new CorralError('bad_request', `option '${name}' must be ${describe(type)}`, 'options');
    switch (type) {
      case 'number':
        if (typeof value !== 'number' || !Number.isFinite(value)) throw bad();
        break;
      case 'int':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw bad();
        break;
      case 'boolean':
        if (typeof value !== 'boolean') throw bad();
        break;
      case 'string[]':
        if (typeof value === 'string') {
          out[name] = [value];
          continue;
        }
        if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) throw bad();
        break;
    }
    out[name] = value;
  }
  return out;
}

function describe(t: string): string {
  return t === 'int' ? 'an integer' : t === 'string[]' ? 'a list of strings' : `a ${t}`;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** Merges model parameters and request options (request wins) into protocol sampling. */
export function toSampling(merged: OllamaOptions): SamplingInput {
  const stop = merged.stop;
  return {
    temperature: num(merged.temperature),
    topK: num(merged.top_k),
    topP: num(merged.top_p),
    minP: num(merged.min_p),
    typicalP: num(merged.typical_p),
    seed: num(merged.seed),
    repeatPenalty: num(merged.repeat_penalty),
    repeatLastN: num(merged.repeat_last_n),
    presencePenalty: num(merged.presence_penalty),
    frequencyPenalty: num(merged.frequency_penalty),
    penalizeNewline: typeof merged.penalize_newline === 'boolean' ? merged.penalize_newline : undefined,
    numPredict: num(merged.num_predict) ?? -1,
    stop: Array.isArray(stop) ? (stop as string[]) : [],
    numKeep: num(merged.num_keep),
  };
}
