/**
 * Ollama's PARAMETER table (api/types.go Options and Runner): names and value types. The
 * deprecated entries (mirostat*, penalize_newline, ...) are still accepted because Modelfiles and
 * params layers of older Ollama models carry them; Ollama itself only warns about them.
 */
import { CorralError, ErrorCode } from '@corral/common';

export type ParameterType = 'int' | 'float' | 'bool' | 'string[]';

export const PARAMETER_TYPES: Readonly<Record<string, ParameterType>> = {
  // Runner: fixed when the model is loaded
  num_ctx: 'int',
  num_batch: 'int',
  num_gpu: 'int',
  main_gpu: 'int',
  use_mmap: 'bool',
  num_thread: 'int',
  // Predict: per request
  num_keep: 'int',
  seed: 'int',
  num_predict: 'int',
  top_k: 'int',
  top_p: 'float',
  min_p: 'float',
  typical_p: 'float',
  repeat_last_n: 'int',
  temperature: 'float',
  repeat_penalty: 'float',
  presence_penalty: 'float',
  frequency_penalty: 'float',
  stop: 'string[]',
  // Deprecated by Ollama, still found in older models
  mirostat: 'int',
  mirostat_tau: 'float',
  mirostat_eta: 'float',
  penalize_newline: 'bool',
  tfs_z: 'float',
  numa: 'bool',
  low_vram: 'bool',
  f16_kv: 'bool',
  logits_all: 'bool',
  vocab_only: 'bool',
  use_mlock: 'bool',
};

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** Exactly the spellings Go's strconv.ParseBool accepts. */
const BOOLS: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false,
};

const EXPECTED: Record<ParameterType, string> = {
  int: 'an integer',
  float: 'a number',
  bool: 'true or false',
  'string[]': 'a string or an array of strings',
};

/** Why a value is rejected; the caller adds where (line number, request field). */
export class ParameterValueError extends Error {
  constructor(
    readonly kind: 'unknown' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

export function parameterType(name: string): ParameterType {
  const t = PARAMETER_TYPES[name];
  if (!t) throw new ParameterValueError('unknown', `unknown parameter '${name}'`);
  return t;
}

/** Converts one PARAMETER value as written in a Modelfile. `stop` gives one string. */
export function parseParameterText(name: string, text: string): number | boolean | string {
  const type = parameterType(name);
  const bad = () =>
    new ParameterValueError(
      'invalid',
      `invalid value '${text}' for parameter '${name}': expected ${EXPECTED[type]}`,
    );
  switch (type) {
    case 'int': {
      if (!INT_RE.test(text)) throw bad();
      const n = Number(text);
      if (!Number.isSafeInteger(n)) throw bad();
      return n;
    }
    case 'float': {
      if (!FLOAT_RE.test(text)) throw bad();
      const n = Number(text);
      if (!Number.isFinite(n)) throw bad();
      return n;
    }
    case 'bool': {
      const b = BOOLS[text];
      if (b === undefined) throw bad();
      return b;
    }
    case 'string[]':
      return text;
  }
}

function coerceOne(name: string, value: unknown): unknown {
  const type = parameterType(name);
  const shown = JSON.stringify(value) ?? String(value);
  const bad = () =>
    new ParameterValueError(
      'invalid',
      `invalid value ${shown} for parameter '${name}': expected ${EXPECTED[type]}`,
    );
  if (typeof value === 'string' && type !== 'string[]') {
    // Lenient: clients sometimes send "0.7"; the text rules are the Modelfile's.
    return parseParameterText(name, value.trim());
  }
  switch (type) {
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw bad();
      return value;
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw bad();
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw bad();
      return value;
    case 'string[]':
      if (typeof value === 'string') return [value];
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return [...(value as string[])];
      throw bad();
  }
}

/**
 * Validates and coerces a JSON parameters object (the `parameters` of /api/create, or a params
 * layer) against the table. `stop` becomes a string array; null values are dropped.
 * Throws `CorralError(code)` naming the parameter; code defaults to `bad_request`.
 */
export function coerceParameters(obj: unknown, code: ErrorCode = 'bad_request'): Record<string, unknown> {
  if (obj === undefined || obj === null) return {};
  if (typeof obj !== 'object' || Array.isArray(obj)) {
    throw new CorralError(code, 'parameters must be an object of name: value pairs', 'parameters');
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(obj as Record<string, unknown>)) {
    if (value === null || value === undefined) continue;
    try {
      out[name] = coerceOne(name, value);
    } catch (e) {
      if (e instanceof ParameterValueError) throw new CorralError(code, e.message, 'parameters');
      throw e;
    }
  }
  return out;
}

/** `%v` of a parameter value as Go prints it in a Modelfile. */
export function formatParameterValue(value: unknown): string {
  return String(value);
}

/** `%#v` as `ollama show` prints parameters: strings quoted with Go escapes, numbers bare. */
export function goSyntaxValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** Flattens parameters to (name, value) pairs in name order, one pair per `stop` entry. */
export function parameterEntries(params: Record<string, unknown>): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const name of Object.keys(params).sort()) {
    const v = params[name];
    if (Array.isArray(v)) for (const item of v) out.push([name, item]);
    else if (v !== undefined && v !== null) out.push([name, v]);
  }
  return out;
}

/** Params layers written by Ollama may hold options Corral does not know: keep them, fix `stop`. */
export function normalizeStoredParams(raw: unknown): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return {};
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  if (typeof out.stop === 'string') out.stop = [out.stop];
  return out;
}
