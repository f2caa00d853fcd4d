import type { GgufSummary } from '../types';
import { invalid } from './cursor';
import {
  EMBEDDING_ARCHITECTURES,
  FILE_TYPE_FROM_TENSOR_TYPE,
  FILE_TYPE_NAMES,
  LLAMA_ARCHITECTURES,
} from './llama-names';
import { printable, readGguf, type GgufFile } from './reader';

/** Ollama leaves these out of /api/show's model_info unless verbose: they are the vocabulary. */
const ELIDED_KEYS = [
  'tokenizer.ggml.tokens',
  'tokenizer.ggml.scores',
  'tokenizer.ggml.token_type',
  'tokenizer.ggml.merges',
];
/** Ollama deletes these from model_info: /api/show reports them in their own fields. */
const DROPPED_KEYS = ['general.name', 'tokenizer.chat_template'];

/** Parameter count in Ollama's human form (format.HumanNumber): "260K", "1.1B", "7.24M". */
export function formatParameterSize(n: number): string {
  const scaled = (div: number, decimals: number, unit: string): string => {
    const v = n / div;
    return (v === Math.floor(v) ? v.toFixed(0) : v.toFixed(decimals)) + unit;
  };
  if (n >= 1e9) return scaled(1e9, 1, 'B');
  if (n >= 1e6) return scaled(1e6, 2, 'M');
  if (n >= 1e3) return (n / 1e3).toFixed(0) + 'K';
  return String(n);
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  // Some architectures (OpenELM, Gemma 3n) store per-layer values; report the largest.
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'))
    return Math.max(...(v as number[]));
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** general.file_type as Ollama names it; when absent, guessed like llama.cpp from the most common tensor type. */
export function fileTypeName(file: GgufFile): string {
  const ft = file.metadata['general.file_type'];
  if (typeof ft === 'number') return FILE_TYPE_NAMES.get(ft) ?? 'unknown';
  // llama.cpp walks tensors in name order and keeps the first type to reach the highest count.
  const counts = new Map<string, number>();
  let best = 'F32';
  let bestCount = 0;
  for (const t of [...file.tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const n = (counts.get(t.typeName) ?? 0) + 1;
    counts.set(t.typeName, n);
    if (n > bestCount) {
      bestCount = n;
      best = t.typeName;
    }
  }
  return FILE_TYPE_FROM_TENSOR_TYPE.get(best) ?? 'F32';
}

/**
 * The shortest decimal that reads back as the same float32, as Go prints a float32 (Ollama shows
 * layer_norm_rms_epsilon as 1e-05, not 9.999999747378752e-06).
 */
function shortestFloat32(v: number): number {
  if (!Number.isFinite(v)) return v;
  for (let p = 1; p < 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return d;
  }
  return v;
}

/** A JSON-safe copy of the metadata laid out as Ollama's /api/show model_info. */
function modelInfo(file: GgufFile, parameterCount: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const json = (v: unknown, f32: boolean): unknown =>
    typeof v === 'bigint'
      ? Number(v)
      : Array.isArray(v)
        ? v.map((x) => json(x, f32))
        : f32 && typeof v === 'number'
          ? shortestFloat32(v)
          : v;
  for (const key of Object.keys(file.metadata).sort()) {
    if (DROPPED_KEYS.includes(key)) continue;
    const t = file.metadataTypes[key];
    const f32 = t?.type === 'float32' || t?.itemType === 'float32';
    // defineProperty: a key named "__proto__" in a hostile file must stay plain data.
    const value = ELIDED_KEYS.includes(key) ? null : json(file.metadata[key], f32);
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  if (!('general.parameter_count' in out)) out['general.parameter_count'] = parameterCount;
  return out;
}

/** Builds the summary of an already-parsed header; see validateGguf. */
export function summarizeGguf(file: GgufFile): GgufSummary {
  const md = file.metadata;
  const arch = md['general.architecture'];
  if (arch === undefined) throw invalid('general.architecture is missing');
  if (typeof arch !== 'string') throw invalid('general.architecture is not a string');
  if (!LLAMA_ARCHITECTURES.has(arch))
    throw invalid(`unknown model architecture '${printable(arch)}' (llama.cpp cannot load it)`);

  const parameterCount = file.tensors.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
  const tokens = md['tokenizer.ggml.tokens'];
  const pooling = num(md[`${arch}.pooling_type`]);
  const chatTemplate = str(md['tokenizer.chat_template']);
  const summary: GgufSummary = {
    version: file.version,
    architecture: arch,
    type: md['general.type'] === 'adapter' ? 'adapter' : 'model',
    parameterCount,
    parameterSize: formatParameterSize(parameterCount),
    fileType: fileTypeName(file),
    isEmbedding: EMBEDDING_ARCHITECTURES.has(arch) || (pooling !== undefined && pooling > 0),
    tensorCount: file.tensors.length,
    fileSize: file.fileSize,
    modelInfo: modelInfo(file, parameterCount),
  };
  const optional: Partial<GgufSummary> = {
    name: str(md['general.name']),
    contextLength: num(md[`${arch}.context_length`]),
    embeddingLength: num(md[`${arch}.embedding_length`]),
    blockCount: num(md[`${arch}.block_count`]),
    headCount: num(md[`${arch}.attention.head_count`]),
    headCountKv: num(md[`${arch}.attention.head_count_kv`]),
    chatTemplate,
    tokenizerModel: str(md['tokenizer.ggml.model']),
    vocabSize: Array.isArray(tokens) ? tokens.length : num(md[`${arch}.vocab_size`]),
  };
  // Absent facts stay absent (not `undefined` keys), so the summary serialises cleanly.
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) Object.assign(summary, { [k]: v });
  return summary;
}

/**
 * Reads a GGUF header (see readGguf), checks that llama.cpp knows its architecture, and returns
 * the facts the registry and /api/show need. Throws CorralError('invalid_model_file').
 */
export async function validateGguf(path: string): Promise<GgufSummary> {
  return summarizeGguf(await readGguf(path));
}
