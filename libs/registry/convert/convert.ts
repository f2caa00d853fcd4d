/**
 * Hugging Face checkpoint → GGUF. `planConversion` reads only headers and JSON and checks
 * everything (architecture, files, tensor names, shapes, dtypes, tokenizer) so a bad checkpoint is
 * refused before a byte is written; `convertCheckpoint` then streams the tensors into the GGUF.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { kv, type GgufKV } from '../gguf';
import { decoderPlan, permuteRows, SUPPORTED_ARCHITECTURES, type ArchPlan } from './architectures';
import { BERT_ARCHITECTURES, bertPlan } from './bert';
import { writeGgufStream, type StreamTensor, type StreamTensorType } from './gguf-stream';
import {
  dtypeBytes,
  readSafetensorsHeader,
  readTensorBytes,
  toFloat32,
  type SafetensorsTensor,
} from './safetensors';
import { convertTokenizer, type TokenizerJson } from './tokenizer';

/** A checkpoint's files: upload name (e.g. `config.json`) → path on this machine. */
export type CheckpointFiles = Map<string, string>;

export interface ConversionPlan {
  /** GGUF architecture (llama, qwen2, gemma, bert). */
  arch: string;
  /** The checkpoint's architectures[0], e.g. MistralForCausalLM. */
  hfArch: string;
  metadata: GgufKV[];
  tensors: StreamTensor[];
  /** Bytes of tensor data read from the safetensors files. */
  sourceBytes: number;
  /** GGUF general.file_type name: F32, F16 or BF16. */
  fileType: string;
}

export interface ConvertOptions {
  /** general.name. Defaults to config.json's `_name_or_path`, else the architecture. */
  name?: string;
  signal?: AbortSignal;
  progress?: (status: string) => void;
}

const INDEX = 'model.safetensors.index.json';
const FILE_TYPES: Record<StreamTensorType, number> = { F32: 0, F16: 1, BF16: 32 };

/** Whether a set of uploaded file names is a Hugging Face checkpoint (rather than GGUF files). */
export function isCheckpoint(names: Iterable<string>): boolean {
  for (const n of names) if (n.endsWith('.safetensors') || n === 'config.json') return true;
  return false;
}

/** The top-level regular files of a local checkpoint directory. */
export async function checkpointFromDir(dir: string): Promise<CheckpointFiles> {
  const out: CheckpointFiles = new Map();
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile()) out.set(e.name, join(dir, e.name));
  }
  // sentence-transformers keeps the pooling mode of embedding models in a subfolder.
  const pooling = join(dir, POOLING);
  if ((await stat(pooling).catch(() => undefined))?.isFile()) out.set(POOLING, pooling);
  return out;
}

const POOLING = '1_Pooling/config.json';

async function archPlan(files: CheckpointFiles, config: Record<string, unknown>): Promise<ArchPlan> {
  const archs = config.architectures;
  const hfArch = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : undefined;
  if (hfArch && BERT_ARCHITECTURES.includes(hfArch)) {
    return bertPlan(config, hfArch, await readJson(files, POOLING, false));
  }
  if (hfArch && !(hfArch in SUPPORTED_ARCHITECTURES)) {
    throw new CorralError(
      'unsupported',
      `architecture ${hfArch} is not supported; supported: ${[...Object.keys(SUPPORTED_ARCHITECTURES), ...BERT_ARCHITECTURES].join(', ')}`,
    );
  }
  return decoderPlan(config);
}

function missing(what: string): CorralError {
  return new CorralError('bad_request', `checkpoint is missing ${what}`);
}

async function readJson(
  files: CheckpointFiles,
  name: string,
  required: true,
): Promise<Record<string, unknown>>;
async function readJson(
  files: CheckpointFiles,
  name: string,
  required: false,
): Promise<Record<string, unknown> | undefined>;
async function readJson(files: CheckpointFiles, name: string, required: boolean) {
  const path = files.get(name);
  if (!path) {
    if (required) throw missing(name);
    return undefined;
  }
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) throw missing(name);
  if (st.size > 64 * 1024 * 1024) throw new CorralError('invalid_model_file', `${name} is too large`);
  try {
    const v: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new CorralError('invalid_model_file', `${name} is not a valid JSON object`);
  }
}

/** Every tensor of the checkpoint, single-file or sharded. */
async function readTensors(files: CheckpointFiles): Promise<SafetensorsTensor[]> {
  const index = await readJson(files, INDEX, false);
  const out: SafetensorsTensor[] = [];
  if (index) {
    const map = index.weight_map as Record<string, unknown> | undefined;
    if (!map || typeof map !== 'object')
      throw new CorralError('invalid_model_file', `${INDEX} has no weight_map`);
    const shards = [...new Set(Object.values(map))];
    const byShard = new Map<string, Map<string, SafetensorsTensor>>();
    for (const shard of shards) {
      if (typeof shard !== 'string') throw new CorralError('invalid_model_file', `${INDEX}: bad shard name`);
      const path = files.get(shard);
      if (!path) throw missing(`${shard} (named by ${INDEX})`);
      byShard.set(shard, new Map((await readSafetensorsHeader(path, shard)).map((t) => [t.name, t])));
    }
    for (const [name, shard] of Object.entries(map)) {
      const t = byShard.get(shard as string)?.get(name);
      if (!t)
        throw new CorralError('invalid_model_file', `${shard as string} does not hold '${name}' (${INDEX})`);
      out.push(t);
    }
    return out;
  }
  const shards = [...files.keys()].filter((n) => n.endsWith('.safetensors')).sort();
  if (!shards.length) throw missing('model weights (*.safetensors)');
  const seen = new Set<string>();
  for (const shard of shards) {
    for (const t of await readSafetensorsHeader(files.get(shard)!, shard)) {
      if (seen.has(t.name)) throw new CorralError('invalid_model_file', `tensor '${t.name}' appears twice`);
      seen.add(t.name);
      out.push(t);
    }
  }
  return out;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export async function planConversion(
  files: CheckpointFiles,
  opts: ConvertOptions = {},
): Promise<ConversionPlan> {
  const config = await readJson(files, 'config.json', true);
  const h = await archPlan(files, config);
  const tokJson = await readJson(files, 'tokenizer.json', true);
  const tokCfg = (await readJson(files, 'tokenizer_config.json', false)) ?? {};
  const jinja = files.get('chat_template.jinja');
  if (jinja && tokCfg.chat_template === undefined) tokCfg.chat_template = await readFile(jinja, 'utf8');

  const rules = h.rules;
  const tensors: StreamTensor[] = [];
  const found = new Set<string>();
  let sourceBytes = 0;
  const count: Record<StreamTensorType, number> = { F32: 0, F16: 0, BF16: 0 };
  for (const t of await readTensors(files)) {
    const ruleName = h.ruleName(t.name);
    if (ruleName === undefined) continue;
    const rule = rules.get(ruleName);
    if (!rule) {
      throw new CorralError('unsupported', `tensor '${t.name}' is not part of a ${h.hfArch} model`);
    }
    if (!sameShape(t.shape, rule.shape)) {
      throw new CorralError(
        'invalid_model_file',
        `tensor '${t.name}' has shape [${t.shape.join(', ')}], config.json implies [${rule.shape.join(', ')}]`,
      );
    }
    found.add(ruleName);
    sourceBytes += t.byteLength;
    const oneD = t.shape.length === 1;
    const type: StreamTensorType = oneD ? 'F32' : t.dtype;
    if (!oneD) count[type]++;
    tensors.push({
      name: rule.gguf,
      type,
      dims: [...t.shape].reverse(),
      data: async () => {
        let bytes = await readTensorBytes(t);
        if (rule.permuteHeads) {
          const rowBytes = oneD ? dtypeBytes(t.dtype) : t.shape[1]! * dtypeBytes(t.dtype);
          bytes = permuteRows(bytes, rule.permuteHeads, rowBytes);
        }
        if (!oneD) return bytes;
        const f = toFloat32(bytes, t.dtype);
        if (rule.addOne) for (let i = 0; i < f.length; i++) f[i]! += 1;
        return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
      },
    });
  }
  for (const [name, rule] of rules) {
    if (!rule.optional && !found.has(name)) {
      throw new CorralError(
        'invalid_model_file',
        `checkpoint has no tensor '${name}' (needed by ${h.hfArch})`,
      );
    }
  }

  for (const extra of h.extraTensors ?? []) {
    const data = Buffer.from(extra.data.buffer, extra.data.byteOffset, extra.data.byteLength);
    tensors.push({
      name: extra.name,
      type: 'F32',
      dims: [extra.data.length],
      data: () => Promise.resolve(data),
    });
  }

  const fileType = (Object.keys(count) as StreamTensorType[]).reduce((a, b) => (count[b] > count[a] ? b : a));
  const name =
    opts.name ??
    (typeof config._name_or_path === 'string' && config._name_or_path ? config._name_or_path : h.hfArch);
  const metadata: GgufKV[] = [
    kv.str('general.architecture', h.arch),
    kv.str('general.type', 'model'),
    kv.str('general.name', name),
    kv.u32('general.file_type', FILE_TYPES[fileType]),
    ...h.metadata,
    ...convertTokenizer(tokJson as TokenizerJson, tokCfg, config, h.vocab, h.tokenizer),
  ];
  return { arch: h.arch, hfArch: h.hfArch, metadata, tensors, sourceBytes, fileType };
}

/** Converts a checkpoint into a GGUF at `outPath` (written beside it, renamed when complete). */
export async function convertCheckpoint(
  files: CheckpointFiles,
  outPath: string,
  opts: ConvertOptions = {},
): Promise<ConversionPlan & { bytes: number }> {
  opts.progress?.('converting model');
  const plan = await planConversion(files, opts);
  let last = -1;
  const bytes = await writeGgufStream(outPath, plan.metadata, plan.tensors, {
    signal: opts.signal,
    onTensor: (done, total) => {
      // One status per 10%: a 300-tensor model should not send 300 lines.
      const pct = Math.floor((done / total) * 10);
      if (pct !== last) {
        last = pct;
        opts.progress?.(`converting model (${done}/${total} tensors)`);
      }
    },
  });
  return { ...plan, bytes };
}
