import { CorralError } from '@corral/common';
import { BOS_ID, buildVocab, EOS_ID, UNK_ID, type Vocab } from './tiny-vocab';
import { kv, writeGguf, type GgufKV, type GgufWriteTensor } from './writer';

/** Options shared by the tiny model builders. */
export interface TinyModelOptions {
  /** Jinja chat template written to tokenizer.chat_template. Defaults to none. */
  chatTemplate?: string;
  /** general.name. Defaults to "tiny-llama" / "scripted-llama". */
  name?: string;
}

export interface TinyLlamaOptions extends TinyModelOptions {
  /** PRNG seed for the weights. Defaults to 42. */
  seed?: number;
  /** Storage type of the 2-D weights (norms are always F32). Defaults to "F32". */
  weightType?: 'F32' | 'F16';
  /** Hidden size. Defaults to 64. */
  embeddingLength?: number;
  /** Transformer blocks. Defaults to 2. */
  blockCount?: number;
  /** Context length the model claims to be trained for. Defaults to 2048. */
  contextLength?: number;
}

export interface ScriptedModelOptions extends TinyModelOptions {
  /** Text pieces the model emits in order, then EOS. Spaces may be written as ' ' or '▁'. */
  script: string[];
}

interface LlamaSpec {
  name: string;
  vocab: Vocab;
  hidden: number;
  blocks: number;
  heads: number;
  kvHeads: number;
  ff: number;
  context: number;
  weightType: 'F32' | 'F16';
  chatTemplate?: string;
  extraMetadata?: GgufKV[];
  /** Fills a tensor; `fallback` is a small random fill. */
  fill: (name: string, size: number, fallback: () => Float32Array) => Float32Array;
}

/** mulberry32: small, fast and good enough to make deterministic random weights. */
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

async function writeLlama(path: string, s: LlamaSpec, seed: number): Promise<void> {
  const V = s.vocab.tokens.length;
  const headDim = s.hidden / s.heads;
  const kvDim = headDim * s.kvHeads;
  const rand = prng(seed);
  const tensors: GgufWriteTensor[] = [];
  const add = (name: string, dims: number[], norm = false): void => {
    const size = dims.reduce((a, b) => a * b, 1);
    const scale = 1 / Math.sqrt(dims[0] ?? 1);
    const fallback = (): Float32Array =>
      norm
        ? new Float32Array(size).fill(1)
        : Float32Array.from({ length: size }, () => (rand() * 2 - 1) * scale);
    tensors.push({ name, dims, type: norm ? 'F32' : s.weightType, data: s.fill(name, size, fallback) });
  };
  add('token_embd.weight', [s.hidden, V]);
  for (let i = 0; i < s.blocks; i++) {
    add(`blk.${i}.attn_norm.weight`, [s.hidden], true);
    add(`blk.${i}.attn_q.weight`, [s.hidden, s.hidden]);
    add(`blk.${i}.attn_k.weight`, [s.hidden, kvDim]);
    add(`blk.${i}.attn_v.weight`, [s.hidden, kvDim]);
    add(`blk.${i}.attn_output.weight`, [s.hidden, s.hidden]);
    add(`blk.${i}.ffn_norm.weight`, [s.hidden], true);
    add(`blk.${i}.ffn_gate.weight`, [s.hidden, s.ff]);
    add(`blk.${i}.ffn_up.weight`, [s.hidden, s.ff]);
    add(`blk.${i}.ffn_down.weight`, [s.ff, s.hidden]);
  }
  add('output_norm.weight', [s.hidden], true);
  add('output.weight', [s.hidden, V]);

  const metadata: GgufKV[] = [
    kv.str('general.architecture', 'llama'),
    kv.str('general.type', 'model'),
    kv.str('general.name', s.name),
    kv.u32('general.file_type', s.weightType === 'F32' ? 0 : 1),
    kv.u32('llama.context_length', s.context),
    kv.u32('llama.embedding_length', s.hidden),
    kv.u32('llama.block_count', s.blocks),
    kv.u32('llama.feed_forward_length', s.ff),
    kv.u32('llama.attention.head_count', s.heads),
    kv.u32('llama.attention.head_count_kv', s.kvHeads),
    kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    kv.u32('llama.rope.dimension_count', headDim),
    kv.f32('llama.rope.freq_base', 10000),
    kv.u32('llama.vocab_size', V),
    kv.str('tokenizer.ggml.model', 'llama'),
    kv.arr('tokenizer.ggml.tokens', 'string', s.vocab.tokens),
    kv.arr('tokenizer.ggml.scores', 'float32', s.vocab.scores),
    kv.arr('tokenizer.ggml.token_type', 'int32', s.vocab.types),
    kv.u32('tokenizer.ggml.bos_token_id', BOS_ID),
    kv.u32('tokenizer.ggml.eos_token_id', EOS_ID),
    kv.u32('tokenizer.ggml.unknown_token_id', UNK_ID),
    kv.bool('tokenizer.ggml.add_bos_token', true),
    kv.bool('tokenizer.ggml.add_eos_token', false),
    ...(s.extraMetadata ?? []),
  ];
  if (s.chatTemplate !== undefined) metadata.push(kv.str('tokenizer.chat_template', s.chatTemplate));
  await writeGguf(path, { metadata, tensors });
}

/**
 * Writes a small llama-architecture model with seeded random weights (hidden 64, 2 blocks, 4
 * heads, 2 KV heads, FFN 128, context 2048, a ~600-token SentencePiece vocabulary). It loads in
 * llama.cpp and generates (nonsense) text and embeddings quickly on a CPU.
 */
export async function buildTinyLlama(path: string, opts: TinyLlamaOptions = {}): Promise<void> {
  const hidden = opts.embeddingLength ?? 64;
  if (hidden % 16 !== 0) throw new CorralError('bad_request', 'embeddingLength must be a multiple of 16');
  await writeLlama(
    path,
    {
      name: opts.name ?? 'tiny-llama',
      vocab: buildVocab(),
      hidden,
      blocks: opts.blockCount ?? 2,
      heads: 4,
      kvHeads: 2,
      ff: hidden * 2,
      context: opts.contextLength ?? 2048,
      weightType: opts.weightType ?? 'F32',
      chatTemplate: opts.chatTemplate,
      fill: (_name, _size, fallback) => fallback(),
    },
    opts.seed ?? 42,
  );
}

/** Logit given to the scripted next token (all others get 0): at temperature 0.8 the chance of
 * any other token is about vocab × e^(-30/0.8) ≈ 1e-13 per step. */
const SCRIPT_LOGIT = 30;

/**
 * Writes a llama model whose output is always `script` followed by EOS, whatever the prompt.
 *
 * How: attention outputs and FFN down projections are zero, so the residual stream at the last
 * position is that token's embedding alone. Each embedding is a one-hot "class" vector naming the
 * token to emit next, and output.weight maps class i to a large logit for that token. Script
 * tokens point to the following script token (the last one to EOS); every other token points to
 * script[0]. Pieces must be unique because the next token depends on the last token only.
 *
 * Limitation, inherent to that design: a prompt whose last token is a script piece continues the
 * script from there ("...Wow!" with a script ending in "!" emits EOS at once). Chat templates end
 * prompts with their own markers, so chat requests always get the whole script.
 */
export async function buildScriptedModel(path: string, opts: ScriptedModelOptions): Promise<void> {
  const script = opts.script.map((p) => p.replace(/ /g, '\u2581'));
  if (script.length === 0) throw new CorralError('bad_request', 'script must hold at least one piece');
  for (const [i, p] of script.entries()) {
    if (p === '' || /^<(unk|s|\/s|0x[0-9A-F]{2})>$/.test(p)) {
      throw new CorralError('bad_request', `script piece ${i} ('${p}') is empty or a special token`);
    }
    if (script.indexOf(p) !== i) throw new CorralError('bad_request', `script piece '${p}' appears twice`);
  }
  const vocab = buildVocab(script);
  const V = vocab.tokens.length;
  const ids = script.map((p) => vocab.tokens.indexOf(p));
  // Class k < script.length: "emit script[k]"; class script.length: "emit EOS".
  const classes = script.length + 1;
  const hidden = Math.max(64, Math.ceil(classes / 16) * 16);
  const classOf = new Map(ids.map((id, k) => [id, k + 1]));
  const target = (k: number): number => (k < script.length ? ids[k]! : EOS_ID);

  await writeLlama(
    path,
    {
      name: opts.name ?? 'scripted-llama',
      vocab,
      hidden,
      blocks: 1,
      heads: 4,
      kvHeads: 2,
      ff: hidden * 2,
      context: 2048,
      weightType: 'F32',
      chatTemplate: opts.chatTemplate,
      // The script's text then tokenizes back to exactly the script's tokens (no space is added
      // in front of the first piece).
      extraMetadata: [kv.bool('tokenizer.ggml.add_space_prefix', false)],
      fill: (name, size, fallback) => {
        if (name === 'token_embd.weight') {
          const w = new Float32Array(size);
          for (let t = 0; t < V; t++) w[t * hidden + (classOf.get(t) ?? 0)] = 1;
          return w;
        }
        if (name === 'output.weight') {
          // After the final RMS norm a one-hot vector has sqrt(hidden) in its hot dimension.
          const w = new Float32Array(size);
          for (let k = 0; k < classes; k++) w[target(k) * hidden + k] = SCRIPT_LOGIT / Math.sqrt(hidden);
          return w;
        }
        if (name.endsWith('attn_output.weight') || name.endsWith('ffn_down.weight'))
          return new Float32Array(size);
        return fallback();
      },
    },
    7,
  );
}
