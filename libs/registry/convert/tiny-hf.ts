/**
 * Builds tiny Hugging Face checkpoints (config.json, tokenizer.json, tokenizer_config.json,
 * safetensors, optionally sharded) with random weights, for tests and benchmarks. Defaults are
 * sized so that every weight row is a multiple of 256 (the k-quant block), which llama.cpp
 * needs to quantize each tensor to the requested type rather than a fallback.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toFloat16Bits } from '../gguf';
import type { SafetensorsDtype } from './safetensors';
import { toFloat32 } from './safetensors';
import { byteLevelTokenizer, sentencePieceTokenizer, type TinyTokenizer } from './tiny-tokenizers';

export type TinyHfFamily = 'llama' | 'mistral' | 'qwen2' | 'gemma';

export interface TinyHfOptions {
  family: TinyHfFamily;
  /** Storage type of every tensor. Defaults to F32. */
  dtype?: SafetensorsDtype;
  /** Defaults to 1. */
  seed?: number;
  /** Defaults to 256. */
  hidden?: number;
  /** Defaults to 2. */
  layers?: number;
  /** Defaults to 4. */
  heads?: number;
  /** Defaults to 2. */
  kvHeads?: number;
  /** Defaults to 512. */
  ff?: number;
  /** Number of safetensors shards (with model.safetensors.index.json when > 1). Defaults to 1. */
  shards?: number;
  /** Tie the output to the embedding (no lm_head). Defaults to true for Gemma and Qwen2, false otherwise. */
  tied?: boolean;
  /** Llama only: a Llama 3-style byte-level BPE tokenizer instead of the SentencePiece-style one. Defaults to false. */
  llama3Tokenizer?: boolean;
  /** Written as config.json's rope_scaling. Defaults to none. */
  ropeScaling?: Record<string, unknown>;
}

/** A tensor as stored (values already rounded to the storage type). */
export interface TinyTensor {
  shape: number[];
  data: Float32Array;
}

export interface TinyHfCheckpoint {
  dir: string;
  config: Record<string, unknown>;
  tensors: Map<string, TinyTensor>;
  tokenizer: TinyTokenizer;
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function encode(data: Float32Array, dtype: SafetensorsDtype): Buffer {
  if (dtype === 'F32') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.length * 2);
  const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) {
    if (dtype === 'F16') out.writeUInt16LE(toFloat16Bits(data[i]!), i * 2);
    else {
      const x = u[i]!;
      out.writeUInt16LE(((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff, i * 2); // round to nearest even
    }
  }
  return out;
}

/** Writes one safetensors file (header padded to 8 bytes with spaces, as the reference library does). */
export async function writeSafetensors(
  path: string,
  tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; bytes: Buffer }[],
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  await writeFile(path, Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => t.bytes)]));
}

export async function buildTinyHf(dir: string, opts: TinyHfOptions): Promise<TinyHfCheckpoint> {
  const f = opts.family;
  const dtype = opts.dtype ?? 'F32';
  const H = opts.hidden ?? 256;
  const L = opts.layers ?? 2;
  const heads = opts.heads ?? 4;
  const kvHeads = opts.kvHeads ?? 2;
  const hd = H / heads;
  const ff = opts.ff ?? 512;
  const tied = opts.tied ?? (f === 'gemma' || f === 'qwen2');
  const tok =
    f === 'qwen2'
      ? byteLevelTokenizer('qwen2')
      : opts.llama3Tokenizer
        ? byteLevelTokenizer('llama3')
        : sentencePieceTokenizer({ prependSpace: f !== 'gemma' });
  // Llama pads its embedding past the tokenizer (as many real checkpoints do) to test padding.
  const V = f === 'llama' ? tok.size + 5 : tok.size;
  const rand = prng(opts.seed ?? 1);
  const tensors = new Map<string, TinyTensor>();
  const add = (name: string, shape: number[], kind: 'w' | 'norm' | 'bias' = 'w'): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    const scale = kind === 'w' ? 1 / Math.sqrt(shape[shape.length - 1]!) : 0.1;
    const base = kind === 'norm' && f !== 'gemma' ? 1 : 0;
    const raw = Float32Array.from({ length: n }, () => base + (rand() * 2 - 1) * scale);
    tensors.set(name, { shape, data: toFloat32(encode(raw, dtype), dtype) });
  };
  add('model.embed_tokens.weight', [V, H]);
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`;
    add(`${p}input_layernorm.weight`, [H], 'norm');
    add(`${p}self_attn.q_proj.weight`, [heads * hd, H]);
    add(`${p}self_attn.k_proj.weight`, [kvHeads * hd, H]);
    add(`${p}self_attn.v_proj.weight`, [kvHeads * hd, H]);
    if (f === 'qwen2') {
      add(`${p}self_attn.q_proj.bias`, [heads * hd], 'bias');
      add(`${p}self_attn.k_proj.bias`, [kvHeads * hd], 'bias');
      add(`${p}self_attn.v_proj.bias`, [kvHeads * hd], 'bias');
    }
    add(`${p}self_attn.o_proj.weight`, [H, heads * hd]);
    add(`${p}post_attention_layernorm.weight`, [H], 'norm');
    add(`${p}mlp.gate_proj.weight`, [ff, H]);
    add(`${p}mlp.up_proj.weight`, [ff, H]);
    add(`${p}mlp.down_proj.weight`, [H, ff]);
  }
  add('model.norm.weight', [H], 'norm');
  if (!tied) add('lm_head.weight', [V, H]);

  const arch = {
    llama: 'LlamaForCausalLM',
    mistral: 'MistralForCausalLM',
    qwen2: 'Qwen2ForCausalLM',
    gemma: 'GemmaForCausalLM',
  }[f];
  const config: Record<string, unknown> = {
    architectures: [arch],
    model_type: f,
    hidden_size: H,
    intermediate_size: ff,
    num_hidden_layers: L,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: hd,
    vocab_size: V,
    max_position_embeddings: 512,
    rms_norm_eps: 1e-6,
    rope_theta: f === 'qwen2' ? 1000000 : 10000,
    hidden_act: f === 'gemma' ? 'gelu_pytorch_tanh' : 'silu',
    tie_word_embeddings: tied,
    ...(opts.ropeScaling ? { rope_scaling: opts.ropeScaling } : {}),
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
    eos_token_id: tok.eosId,
    ...(tok.bosId !== undefined ? { bos_token_id: tok.bosId } : {}),
  };

  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.config, null, 2));
  const entries = [...tensors.entries()].map(([name, t]) => ({
    name,
    dtype,
    shape: t.shape,
    bytes: encode(t.data, dtype),
  }));
  const shards = Math.max(1, opts.shards ?? 1);
  if (shards === 1) {
    await writeSafetensors(join(dir, 'model.safetensors'), entries);
  } else {
    const weightMap: Record<string, string> = {};
    const per = Math.ceil(entries.length / shards);
    for (let s = 0; s < shards; s++) {
      const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const part = entries.slice(s * per, (s + 1) * per);
      for (const e of part) weightMap[e.name] = file;
      await writeSafetensors(join(dir, file), part);
    }
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({
        metadata: { total_size: entries.reduce((n, e) => n + e.bytes.length, 0) },
        weight_map: weightMap,
      }),
    );
  }
  return { dir, config, tensors, tokenizer: tok };
}
