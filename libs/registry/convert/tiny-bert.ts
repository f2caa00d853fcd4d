/**
 * A tiny BERT checkpoint (WordPiece tokenizer, random weights, mean pooling) for tests, and a
 * float32 reference forward pass written from Hugging Face's BertModel (post-LayerNorm encoder).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors, type TinyTensor } from './tiny-hf';

const WORDS = [
  'the',
  'a',
  'and',
  'was',
  'little',
  'girl',
  'named',
  'lily',
  'hello',
  'world',
  'dog',
  'cat',
  'park',
  'play',
];
const CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789.,!?\'"-'];

export interface TinyBert {
  dir: string;
  config: {
    hidden_size: number;
    num_attention_heads: number;
    num_hidden_layers: number;
    layer_norm_eps: number;
  } & Record<string, unknown>;
  tensors: Map<string, TinyTensor>;
  tokenizer: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
}

export async function buildTinyBert(dir: string, seed = 7): Promise<TinyBert> {
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const vocab = new Map<string, number>();
  for (const t of [...specials, ...CHARS, ...CHARS.map((c) => `##${c}`), ...WORDS, '##ing', '##ed', '##ly']) {
    if (!vocab.has(t)) vocab.set(t, vocab.size);
  }
  const V = vocab.size;
  const H = 64;
  const ff = 128;
  const L = 2;
  const ctx = 64;
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const tensors = new Map<string, TinyTensor>();
  const add = (
    name: string,
    shape: number[],
    base = 0,
    scale = 1 / Math.sqrt(shape[shape.length - 1]!),
  ): void => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, {
      shape,
      data: Float32Array.from({ length: n }, () => base + (rand() * 2 - 1) * scale),
    });
  };
  const linear = (p: string, out: number, inp: number): void => {
    add(`${p}.weight`, [out, inp]);
    add(`${p}.bias`, [out], 0, 0.05);
  };
  const norm = (p: string): void => {
    add(`${p}.weight`, [H], 1, 0.1);
    add(`${p}.bias`, [H], 0, 0.1);
  };
  add('embeddings.word_embeddings.weight', [V, H], 0, 0.5);
  add('embeddings.position_embeddings.weight', [ctx, H], 0, 0.1);
  add('embeddings.token_type_embeddings.weight', [2, H], 0, 0.1);
  norm('embeddings.LayerNorm');
  for (let i = 0; i < L; i++) {
    const p = `encoder.layer.${i}`;
    linear(`${p}.attention.self.query`, H, H);
    linear(`${p}.attention.self.key`, H, H);
    linear(`${p}.attention.self.value`, H, H);
    linear(`${p}.attention.output.dense`, H, H);
    norm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, ff, H);
    linear(`${p}.output.dense`, H, ff);
    norm(`${p}.output.LayerNorm`);
  }
  add('pooler.dense.weight', [H, H]);
  add('pooler.dense.bias', [H], 0, 0.05);

  const config = {
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_size: H,
    intermediate_size: ff,
    num_hidden_layers: L,
    num_attention_heads: 4,
    vocab_size: V,
    max_position_embeddings: ctx,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    hidden_act: 'gelu',
    position_embedding_type: 'absolute',
    pad_token_id: 0,
  };
  const special = (content: string) => ({
    id: vocab.get(content),
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const tokenizer = {
    version: '1.0',
    added_tokens: specials.map(special),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [vocab.get('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [vocab.get('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  };
  const tokenizerConfig = {
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
    do_lower_case: true,
    tokenizer_class: 'BertTokenizer',
  };
  await mkdir(join(dir, '1_Pooling'), { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
  await writeFile(
    join(dir, '1_Pooling/config.json'),
    JSON.stringify({ word_embedding_dimension: H, pooling_mode_mean_tokens: true }),
  );
  await writeSafetensors(
    join(dir, 'model.safetensors'),
    [...tensors].map(([name, t]) => ({
      name: `bert.${name}`
        .replace(/LayerNorm\.weight$/, 'LayerNorm.gamma')
        .replace(/LayerNorm\.bias$/, 'LayerNorm.beta'),
      dtype: 'F32' as const,
      shape: t.shape,
      bytes: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    })),
  );
  return { dir, config, tensors, tokenizer, tokenizerConfig };
}

function layerNorm(x: Float32Array, w: Float32Array, b: Float32Array, eps: number): Float32Array {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * w[i]! + b[i]!);
}

function linear(t: Map<string, TinyTensor>, p: string, x: Float32Array): Float32Array {
  const W = t.get(`${p}.weight`)!;
  const B = t.get(`${p}.bias`)!.data;
  const [rows, cols] = W.shape as [number, number];
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = B[r]!;
    for (let c = 0; c < cols; c++) s += W.data[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

function erf(x: number): number {
  // Numerical Recipes' erfc approximation (fractional error < 1.2e-7): float32-accurate.
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    1 -
    t *
      Math.exp(
        -x * x -
          1.26551223 +
          t *
            (1.00002368 +
              t *
                (0.37409196 +
                  t *
                    (0.09678418 +
                      t *
                        (-0.18628806 +
                          t *
                            (0.27886807 +
                              t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
}

/** Mean-pooled last hidden state of `ids` (BertModel + sentence-transformers mean pooling). */
export function referenceBertEmbedding(b: TinyBert, ids: number[]): Float32Array {
  const t = b.tensors;
  const H = b.config.hidden_size;
  const heads = b.config.num_attention_heads;
  const hd = H / heads;
  const eps = b.config.layer_norm_eps;
  const g = (n: string): Float32Array => t.get(n)!.data;
  let xs = ids.map((id, pos) => {
    const e = new Float32Array(H);
    for (let i = 0; i < H; i++) {
      e[i] =
        g('embeddings.word_embeddings.weight')[id * H + i]! +
        g('embeddings.position_embeddings.weight')[pos * H + i]! +
        g('embeddings.token_type_embeddings.weight')[i]!;
    }
    return layerNorm(e, g('embeddings.LayerNorm.weight'), g('embeddings.LayerNorm.bias'), eps);
  });
  for (let l = 0; l < b.config.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    const q = xs.map((x) => linear(t, `${p}.attention.self.query`, x));
    const k = xs.map((x) => linear(t, `${p}.attention.self.key`, x));
    const v = xs.map((x) => linear(t, `${p}.attention.self.value`, x));
    xs = xs.map((x, i) => {
      const ctx = new Float32Array(H);
      for (let h = 0; h < heads; h++) {
        const sc = k.map((kk) => {
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[i]![h * hd + d]! * kk[h * hd + d]!;
          return s / Math.sqrt(hd);
        });
        const m = Math.max(...sc);
        const e = sc.map((s0) => Math.exp(s0 - m));
        const sum = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j < e.length; j++)
          for (let d = 0; d < hd; d++) ctx[h * hd + d]! += (e[j]! / sum) * v[j]![h * hd + d]!;
      }
      const a = linear(t, `${p}.attention.output.dense`, ctx);
      const x1 = layerNorm(
        x.map((xv, d) => xv + a[d]!),
        g(`${p}.attention.output.LayerNorm.weight`),
        g(`${p}.attention.output.LayerNorm.bias`),
        eps,
      );
      const inter = linear(t, `${p}.intermediate.dense`, x1).map((z) => 0.5 * z * (1 + erf(z / Math.SQRT2)));
      const o = linear(t, `${p}.output.dense`, inter);
      return layerNorm(
        x1.map((xv, d) => xv + o[d]!),
        g(`${p}.output.LayerNorm.weight`),
        g(`${p}.output.LayerNorm.bias`),
        eps,
      );
    });
  }
  const out = new Float32Array(H);
  for (const x of xs) for (let d = 0; d < H; d++) out[d]! += x[d]! / xs.length;
  return out;
}
