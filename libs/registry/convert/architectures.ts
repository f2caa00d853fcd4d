/**
 * Hugging Face config.json → GGUF hyperparameters, and HF tensor names → GGUF names with the
 * expected shapes, for the decoder families llama.cpp's convert_hf_to_gguf.py handles the same
 * way (Llama, Mistral, Qwen2, Gemma). Everything here is pure: it plans, checks and describes,
 * and never touches the disk.
 */
import { CorralError } from '@corral/common';
import { kv, type GgufKV } from '../gguf';

export type GgufArch = 'llama' | 'qwen2' | 'gemma';

/** HF `architectures[0]` → GGUF architecture. */
export const SUPPORTED_ARCHITECTURES: Record<string, GgufArch> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  GemmaForCausalLM: 'gemma',
};

/** Hyperparameters read from config.json, validated. */
export interface Hparams {
  arch: GgufArch;
  hfArch: string;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ff: number;
  vocab: number;
  context: number;
  eps: number;
  ropeTheta: number;
  tied: boolean;
}

/** How one HF tensor becomes a GGUF tensor. */
export interface TensorRule {
  gguf: string;
  /** Expected PyTorch shape. */
  shape: number[];
  /** Reorders rows for llama.cpp's interleaved RoPE: the head count to permute by. */
  permuteHeads?: number;
  /** Gemma stores norm weights as w - 1 (it multiplies by 1 + w); llama.cpp wants w itself. */
  addOne?: boolean;
  optional?: boolean;
}

function cfgError(message: string): CorralError {
  return new CorralError('invalid_model_file', `config.json: ${message}`);
}

function int(cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw cfgError(v === undefined ? `'${key}' is missing` : `'${key}' must be a positive integer`);
  }
  return v;
}

function num(cfg: Record<string, unknown>, key: string, fallback: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw cfgError(`'${key}' must be a number`);
  return v;
}

export function readHparams(cfg: Record<string, unknown>): Hparams {
  const archs = cfg.architectures;
  const hfArch = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : undefined;
  if (!hfArch) throw cfgError("'architectures' is missing");
  const arch = SUPPORTED_ARCHITECTURES[hfArch];
  if (!arch) {
    throw new CorralError(
      'unsupported',
      `architecture ${hfArch} is not supported; supported: ${Object.keys(SUPPORTED_ARCHITECTURES).join(', ')}`,
    );
  }
  const hidden = int(cfg, 'hidden_size');
  const heads = int(cfg, 'num_attention_heads');
  const kvHeads = int(cfg, 'num_key_value_heads', heads);
  const headDim = int(cfg, 'head_dim', Math.floor(hidden / heads));
  if (heads % kvHeads !== 0) {
    throw cfgError(`num_attention_heads (${heads}) is not a multiple of num_key_value_heads (${kvHeads})`);
  }
  if (headDim % 2 !== 0) throw cfgError(`head dimension ${headDim} must be even for RoPE`);
  const rope = ropeConfig(cfg);
  const ropeType = rope ? (rope.rope_type ?? rope.type) : undefined;
  const llama3 = ropeType === 'llama3' && arch === 'llama';
  if (
    ropeType !== undefined &&
    !llama3 &&
    ropeType !== 'default' &&
    ropeType !== 'linear' &&
    ropeType !== 'yarn'
  ) {
    throw new CorralError('unsupported', `config.json: rope scaling '${String(ropeType)}' is not supported`);
  }
  if (typeof cfg.hidden_act === 'string' && !['silu', 'gelu', 'gelu_pytorch_tanh'].includes(cfg.hidden_act)) {
    throw new CorralError('unsupported', `config.json: hidden_act '${cfg.hidden_act}' is not supported`);
  }
  return {
    arch,
    hfArch,
    hidden,
    layers: int(cfg, 'num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    ff: int(cfg, 'intermediate_size'),
    vocab: int(cfg, 'vocab_size'),
    context: int(cfg, 'max_position_embeddings', 2048),
    eps: num(cfg, 'rms_norm_eps', 1e-6),
    ropeTheta: num({ rope_theta: cfg.rope_theta ?? rope?.rope_theta }, 'rope_theta', 10000),
    // Gemma always ties; the others say so in config.json (default: not tied, as transformers).
    tied: arch === 'gemma' || cfg.tie_word_embeddings === true,
  };
}

/** RoPE settings: `rope_scaling` (transformers 4) or `rope_parameters` (transformers 5). */
function ropeConfig(cfg: Record<string, unknown>): Record<string, unknown> | undefined {
  const r = cfg.rope_scaling ?? cfg.rope_parameters;
  return r && typeof r === 'object' ? (r as Record<string, unknown>) : undefined;
}

/**
 * Llama 3.1-style RoPE scaling: llama.cpp divides each frequency by a per-dimension factor it
 * reads from a `rope_freqs.weight` tensor, computed as convert_hf_to_gguf.py's LlamaModel does.
 */
export function llama3RopeFactors(cfg: Record<string, unknown>, h: Hparams): Float32Array | undefined {
  const rope = ropeConfig(cfg);
  if (!rope || (rope.rope_type ?? rope.type) !== 'llama3') return undefined;
  const n = (k: string, d: number): number => (typeof rope[k] === 'number' ? (rope[k] as number) : d);
  const factor = n('factor', 8);
  const low = n('low_freq_factor', 1);
  const high = n('high_freq_factor', 4);
  const oldCtx = n('original_max_position_embeddings', 8192);
  const lowWavelen = oldCtx / low;
  const highWavelen = oldCtx / high;
  const out = new Float32Array(h.headDim / 2);
  for (let i = 0; i < out.length; i++) {
    const freq = 1 / Math.pow(h.ropeTheta, (2 * i) / h.headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = (oldCtx / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

/** The `{arch}.*` metadata llama.cpp reads for these families. */
export function hparamsMetadata(h: Hparams, cfg: Record<string, unknown>): GgufKV[] {
  const a = h.arch;
  const meta: GgufKV[] = [
    kv.u32(`${a}.context_length`, h.context),
    kv.u32(`${a}.embedding_length`, h.hidden),
    kv.u32(`${a}.block_count`, h.layers),
    kv.u32(`${a}.feed_forward_length`, h.ff),
    kv.u32(`${a}.attention.head_count`, h.heads),
    kv.u32(`${a}.attention.head_count_kv`, h.kvHeads),
    kv.f32(`${a}.attention.layer_norm_rms_epsilon`, h.eps),
    kv.f32(`${a}.rope.freq_base`, h.ropeTheta),
  ];
  if (a === 'gemma' || h.headDim !== h.hidden / h.heads) {
    meta.push(
      kv.u32(`${a}.attention.key_length`, h.headDim),
      kv.u32(`${a}.attention.value_length`, h.headDim),
    );
  }
  if (a === 'llama') {
    meta.push(kv.u32(`${a}.vocab_size`, h.vocab), kv.u32(`${a}.rope.dimension_count`, h.headDim));
  }
  const rope = ropeConfig(cfg);
  const type = rope?.rope_type ?? rope?.type;
  const factor = rope?.factor;
  if ((type === 'linear' || type === 'yarn') && typeof factor === 'number') {
    meta.push(kv.str(`${a}.rope.scaling.type`, type), kv.f32(`${a}.rope.scaling.factor`, factor));
    const orig = rope?.original_max_position_embeddings;
    if (type === 'yarn' && typeof orig === 'number') {
      meta.push(kv.u32(`${a}.rope.scaling.original_context_length`, orig));
    }
  }
  return meta;
}

/** Every tensor the model may hold, by HF name. */
export function tensorRules(h: Hparams): Map<string, TensorRule> {
  const rules = new Map<string, TensorRule>();
  const H = h.hidden;
  const q = h.heads * h.headDim;
  const k = h.kvHeads * h.headDim;
  const permute = h.arch === 'llama';
  const norm = (gguf: string): TensorRule => ({ gguf, shape: [H], addOne: h.arch === 'gemma' });
  rules.set('model.embed_tokens.weight', { gguf: 'token_embd.weight', shape: [h.vocab, H] });
  rules.set('model.norm.weight', norm('output_norm.weight'));
  if (h.arch !== 'gemma') {
    // Tied models may still ship lm_head (a copy); untied ones must.
    rules.set('lm_head.weight', { gguf: 'output.weight', shape: [h.vocab, H], optional: h.tied });
  }
  for (let i = 0; i < h.layers; i++) {
    const p = `model.layers.${i}.`;
    const b = `blk.${i}.`;
    rules.set(`${p}input_layernorm.weight`, norm(`${b}attn_norm.weight`));
    rules.set(`${p}post_attention_layernorm.weight`, norm(`${b}ffn_norm.weight`));
    rules.set(`${p}self_attn.q_proj.weight`, {
      gguf: `${b}attn_q.weight`,
      shape: [q, H],
      permuteHeads: permute ? h.heads : undefined,
    });
    rules.set(`${p}self_attn.k_proj.weight`, {
      gguf: `${b}attn_k.weight`,
      shape: [k, H],
      permuteHeads: permute ? h.kvHeads : undefined,
    });
    rules.set(`${p}self_attn.v_proj.weight`, { gguf: `${b}attn_v.weight`, shape: [k, H] });
    rules.set(`${p}self_attn.o_proj.weight`, { gguf: `${b}attn_output.weight`, shape: [H, q] });
    // Qwen2 always has q/k/v biases; Llama-family only with attention_bias.
    const biasOptional = h.arch !== 'qwen2';
    rules.set(`${p}self_attn.q_proj.bias`, {
      gguf: `${b}attn_q.bias`,
      shape: [q],
      permuteHeads: permute ? h.heads : undefined,
      optional: biasOptional,
    });
    rules.set(`${p}self_attn.k_proj.bias`, {
      gguf: `${b}attn_k.bias`,
      shape: [k],
      permuteHeads: permute ? h.kvHeads : undefined,
      optional: biasOptional,
    });
    rules.set(`${p}self_attn.v_proj.bias`, { gguf: `${b}attn_v.bias`, shape: [k], optional: biasOptional });
    rules.set(`${p}self_attn.o_proj.bias`, { gguf: `${b}attn_output.bias`, shape: [H], optional: true });
    rules.set(`${p}mlp.gate_proj.weight`, { gguf: `${b}ffn_gate.weight`, shape: [h.ff, H] });
    rules.set(`${p}mlp.up_proj.weight`, { gguf: `${b}ffn_up.weight`, shape: [h.ff, H] });
    rules.set(`${p}mlp.down_proj.weight`, { gguf: `${b}ffn_down.weight`, shape: [H, h.ff] });
  }
  return rules;
}

/** HF tensors the converter drops on purpose (recomputed by llama.cpp). */
export function isIgnoredTensor(name: string, h: Hparams): boolean {
  // Gemma's output is always the embedding; some exports still carry an lm_head copy.
  return name.endsWith('.rotary_emb.inv_freq') || (h.arch === 'gemma' && name === 'lm_head.weight');
}

/**
 * llama.cpp's Llama RoPE rotates interleaved pairs, HF rotates the two halves of each head: rows
 * of q/k are reordered per head so that half `s`, index `i` moves to row 2i + s (the converter's
 * `permute`). `rowBytes` is one row (all columns) in bytes; 1-D biases use the element size.
 */
export function permuteRows(src: Buffer, heads: number, rowBytes: number): Buffer {
  const rows = src.length / rowBytes;
  const perHead = rows / heads;
  const half = perHead / 2;
  const out = Buffer.allocUnsafe(src.length);
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < half; i++) {
        const from = h * perHead + s * half + i;
        const to = h * perHead + 2 * i + s;
        src.copy(out, to * rowBytes, from * rowBytes, (from + 1) * rowBytes);
      }
    }
  }
  return out;
}

/** What the converter needs from an architecture, whichever family it is. */
export interface ArchPlan {
  arch: string;
  hfArch: string;
  /** Embedding rows: the token list is padded to this. */
  vocab: number;
  metadata: GgufKV[];
  rules: Map<string, TensorRule>;
  /** The rule key for a checkpoint tensor name, or undefined to drop the tensor. */
  ruleName: (name: string) => string | undefined;
  /** F32 tensors the converter computes (llama.cpp's rope_freqs.weight). */
  extraTensors?: { name: string; data: Float32Array }[];
  /** Options for the tokenizer conversion. */
  tokenizer: { forceSpaceless?: boolean };
}

/** The plan for the decoder families (Llama, Mistral, Qwen2, Gemma). */
export function decoderPlan(cfg: Record<string, unknown>): ArchPlan {
  const h = readHparams(cfg);
  const factors = llama3RopeFactors(cfg, h);
  return {
    arch: h.arch,
    hfArch: h.hfArch,
    vocab: h.vocab,
    metadata: hparamsMetadata(h, cfg),
    rules: tensorRules(h),
    ruleName: (n) => (isIgnoredTensor(n, h) ? undefined : n),
    tokenizer: { forceSpaceless: h.arch === 'gemma' },
    extraTensors: factors ? [{ name: 'rope_freqs.weight', data: factors }] : [],
  };
}
