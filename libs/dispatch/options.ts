/**
 * Ollama's option names (Modelfile PARAMETER, request `options`) mapped onto the job protocol:
 * sampling for the generation, and load settings (num_ctx, num_gpu, ...) for the model instance.
 * Request options override the model's parameters, which override the server defaults.
 */
import { CorralError } from '@corral/common';
import type { SamplingInput } from '@corral/worker-protocol';
import {
  MAX_NUM_BATCH,
  MAX_NUM_CTX,
  MAX_NUM_GPU,
  MAX_NUM_PREDICT,
  MAX_NUM_THREAD,
  MAX_STOP_LENGTH,
  MAX_STOP_STRINGS,
} from '@corral/worker-protocol';

/** Largest seed; llama.cpp takes it modulo 2^32. */
const MAX_SEED = Number.MAX_SAFE_INTEGER;
/** Bound on temperatures, penalties and the like: far past any useful value, but finite. */
const MAX_FACTOR = 1e6;

type OptionType = 'number' | 'int' | 'boolean' | 'string[]';

/**
 * Ollama option names, the JS type each must have and, for numbers, the range a request may send
 * (outside it: a 400 naming the bound). Options that size memory or work against the context
 * (repeat_last_n, num_keep, num_batch, num_ctx) are further clamped to the context, as llama.cpp
 * and Ollama do, by {@link toSampling} and {@link clampToContext}.
 */
const OPTIONS: ReadonlyMap<string, { type: OptionType; min?: number; max?: number }> = new Map([
  ['num_keep', { type: 'int', min: -1, max: MAX_NUM_CTX }],
  ['seed', { type: 'int', min: -MAX_SEED, max: MAX_SEED }],
  ['num_predict', { type: 'int', min: -2, max: MAX_NUM_PREDICT }],
  ['top_k', { type: 'int', min: 0, max: MAX_NUM_PREDICT }],
  ['top_p', { type: 'number', min: 0, max: 1 }],
  ['min_p', { type: 'number', min: 0, max: 1 }],
  ['typical_p', { type: 'number', min: 0, max: 1 }],
  ['repeat_last_n', { type: 'int', min: -1, max: MAX_NUM_CTX }],
  ['temperature', { type: 'number', min: 0, max: MAX_FACTOR }],
  ['repeat_penalty', { type: 'number', min: 0, max: MAX_FACTOR }],
  ['presence_penalty', { type: 'number', min: -MAX_FACTOR, max: MAX_FACTOR }],
  ['frequency_penalty', { type: 'number', min: -MAX_FACTOR, max: MAX_FACTOR }],
  ['penalize_newline', { type: 'boolean' }],
  ['stop', { type: 'string[]' }],
  ['mirostat', { type: 'int', min: 0, max: 2 }],
  ['mirostat_tau', { type: 'number', min: 0, max: MAX_FACTOR }],
  ['mirostat_eta', { type: 'number', min: 0, max: MAX_FACTOR }],
  ['tfs_z', { type: 'number', min: 0, max: MAX_FACTOR }],
  ['num_ctx', { type: 'int', min: 1, max: MAX_NUM_CTX }],
  ['num_batch', { type: 'int', min: 1, max: MAX_NUM_BATCH }],
  ['num_gpu', { type: 'int', min: -1, max: MAX_NUM_GPU }],
  ['main_gpu', { type: 'int', min: 0, max: 1_024 }],
  ['use_mmap', { type: 'boolean' }],
  ['use_mlock', { type: 'boolean' }],
  ['num_thread', { type: 'int', min: 0, max: MAX_NUM_THREAD }],
  ['low_vram', { type: 'boolean' }],
  ['f16_kv', { type: 'boolean' }],
  ['logits_all', { type: 'boolean' }],
  ['vocab_only', { type: 'boolean' }],
  ['numa', { type: 'boolean' }],
]);

export type OllamaOptions = Record<string, unknown>;

/**
 * Validates a request's `options` object. Unknown names (`__proto__` and `constructor` included),
 * wrong types and out-of-range values are 400s naming the option as the client sent it
 * (`options.num_predict`).
 */
export function validateOptions(options: unknown): OllamaOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new CorralError('bad_request', 'options must be an object', 'options');
  }
  // A null prototype: a `__proto__` key is then an ordinary (unknown, so refused) name, never a prototype.
  const out: OllamaOptions = Object.create(null) as OllamaOptions;
  for (const name of Reflect.ownKeys(options)) {
    if (typeof name !== 'string') continue;
    const value = (options as Record<string, unknown>)[name];
    const field = `options.${name}`;
    const spec = OPTIONS.get(name);
    if (!spec) throw new CorralError('bad_request', `unknown option '${name}'`, field);
    if (value === null) continue;
    const bad = (what: string) => new CorralError('bad_request', `${field} must be ${what}`, field);
    switch (spec.type) {
      case 'number':
      case 'int':
        if (typeof value !== 'number' || !Number.isFinite(value))
          throw bad(spec.type === 'int' ? 'an integer' : 'a number');
        if (spec.type === 'int' && !Number.isInteger(value)) throw bad('an integer');
        if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max))
          throw bad(`between ${spec.min} and ${spec.max}`);
        break;
      case 'boolean':
        if (typeof value !== 'boolean') throw bad('a boolean');
        break;
      case 'string[]': {
        const list = typeof value === 'string' ? [value] : value;
        if (!Array.isArray(list) || list.some((s) => typeof s !== 'string'))
          throw bad('a string or a list of strings');
        if (list.length > MAX_STOP_STRINGS) throw bad(`at most ${MAX_STOP_STRINGS} strings`);
        if (list.some((s: string) => s.length > MAX_STOP_LENGTH))
          throw bad(`strings of at most ${MAX_STOP_LENGTH} characters`);
        out[name] = list;
        continue;
      }
    }
    out[name] = value;
  }
  return { ...out };
}

/**
 * The load settings that size memory, cut to the context: num_ctx to the model's trained length and
 * {@link MAX_NUM_CTX} (also for Modelfile values, which skip request validation), num_batch to num_ctx
 * (llama.cpp does the same), num_thread to {@link MAX_NUM_THREAD} (the worker cuts it to its cores).
 */
export function clampToContext(
  merged: OllamaOptions,
  defaults: { contextLength: number; trainedContext?: number },
): { numCtx: number; numBatch?: number; numThread: number } {
  let numCtx = intIn(merged.num_ctx, 1, MAX_NUM_CTX) ?? defaults.contextLength;
  // Past the trained length quality collapses and memory is wasted; llama.cpp would only warn.
  if (defaults.trainedContext && numCtx > defaults.trainedContext) numCtx = defaults.trainedContext;
  numCtx = Math.max(1, Math.min(numCtx, MAX_NUM_CTX));
  const batch = intIn(merged.num_batch, 1, MAX_NUM_BATCH);
  return {
    numCtx,
    numBatch: batch === undefined ? undefined : Math.min(batch, numCtx),
    numThread: intIn(merged.num_thread, 0, MAX_NUM_THREAD) ?? 0,
  };
}

/** An integer option clamped into [min, max]; anything else (absent, NaN, wrong type) is undefined. */
function intIn(v: unknown, min: number, max: number): number | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  return Math.max(min, Math.min(max, Math.trunc(v)));
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Merges model parameters and request options (request wins) into protocol sampling. `numCtx` is the
 * context the run gets: repeat_last_n (-1 = all of it) and num_keep (-1 = as much as fits) are cut
 * to it, as llama.cpp and Ollama do, and stop strings to their bounds (Modelfile values included).
 */
export function toSampling(merged: OllamaOptions, numCtx: number = MAX_NUM_CTX): SamplingInput {
  const stop = merged.stop;
  const lastN = intIn(merged.repeat_last_n, -1, MAX_NUM_CTX);
  const keep = intIn(merged.num_keep, -1, MAX_NUM_CTX);
  return {
    temperature: nonNegative(merged.temperature),
    topK: intIn(merged.top_k, 0, MAX_NUM_PREDICT),
    topP: unit(merged.top_p),
    minP: unit(merged.min_p),
    typicalP: unit(merged.typical_p),
    seed: intIn(merged.seed, -MAX_SEED, MAX_SEED),
    repeatPenalty: nonNegative(merged.repeat_penalty),
    repeatLastN: lastN === undefined ? undefined : lastN === -1 ? numCtx : Math.min(lastN, numCtx),
    presencePenalty: num(merged.presence_penalty),
    frequencyPenalty: num(merged.frequency_penalty),
    penalizeNewline: typeof merged.penalize_newline === 'boolean' ? merged.penalize_newline : undefined,
    numPredict: intIn(merged.num_predict, -2, MAX_NUM_PREDICT) ?? -1,
    stop: Array.isArray(stop)
      ? (stop as unknown[])
          .filter((s): s is string => typeof s === 'string')
          .slice(0, MAX_STOP_STRINGS)
          .map((s) => s.slice(0, MAX_STOP_LENGTH))
      : [],
    numKeep: keep === undefined ? undefined : keep === -1 ? numCtx : Math.min(keep, numCtx),
  };
}

const unit = (v: unknown): number | undefined => {
  const n = num(v);
  return n === undefined ? undefined : Math.max(0, Math.min(1, n));
};
const nonNegative = (v: unknown): number | undefined => {
  const n = num(v);
  return n === undefined ? undefined : Math.max(0, n);
};
