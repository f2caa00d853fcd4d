/**
 * BERT-style embedding models (BertModel, BertForMaskedLM; the MLM head and pooler are dropped)
 * → llama.cpp's `bert` architecture, following convert_hf_to_gguf.py's BertModel: post-LayerNorm
 * encoder, non-causal attention, pooling from sentence-transformers' 1_Pooling/config.json.
 */
import { CorralError } from '@corral/common';
import { kv } from '../gguf';
import type { ArchPlan, TensorRule } from './architectures';

export const BERT_ARCHITECTURES = ['BertModel', 'BertForMaskedLM'];

/** llama.cpp's enum llama_pooling_type. */
const POOLING = { mean: 1, cls: 2, last: 3 } as const;

function int(cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new CorralError('invalid_model_file', `config.json: '${key}' must be a positive integer`);
  }
  return v;
}

/** sentence-transformers' pooling config → llama.cpp pooling type (mean when there is none, as in llama.cpp). */
export function poolingType(pooling: Record<string, unknown> | undefined): number {
  if (!pooling) return POOLING.mean;
  if (pooling.pooling_mode_cls_token) return POOLING.cls;
  if (pooling.pooling_mode_lasttoken) return POOLING.last;
  if (pooling.pooling_mode_mean_tokens) return POOLING.mean;
  const mode = pooling.pooling_mode;
  if (typeof mode === 'string' && mode in POOLING) return POOLING[mode as keyof typeof POOLING];
  throw new CorralError(
    'unsupported',
    `1_Pooling/config.json: pooling mode ${JSON.stringify(mode)} is not supported`,
  );
}

export function bertPlan(
  cfg: Record<string, unknown>,
  hfArch: string,
  pooling?: Record<string, unknown>,
): ArchPlan {
  const H = int(cfg, 'hidden_size');
  const L = int(cfg, 'num_hidden_layers');
  const heads = int(cfg, 'num_attention_heads');
  const ff = int(cfg, 'intermediate_size');
  const V = int(cfg, 'vocab_size');
  const ctx = int(cfg, 'max_position_embeddings', 512);
  const types = int(cfg, 'type_vocab_size', 2);
  const eps = typeof cfg.layer_norm_eps === 'number' ? cfg.layer_norm_eps : 1e-12;
  if (H % heads !== 0)
    throw new CorralError(
      'invalid_model_file',
      'config.json: hidden_size is not a multiple of num_attention_heads',
    );
  if (typeof cfg.hidden_act === 'string' && cfg.hidden_act !== 'gelu') {
    throw new CorralError(
      'unsupported',
      `config.json: hidden_act '${cfg.hidden_act}' is not supported for BERT`,
    );
  }
  if (cfg.position_embedding_type !== undefined && cfg.position_embedding_type !== 'absolute') {
    throw new CorralError(
      'unsupported',
      `config.json: position_embedding_type '${String(cfg.position_embedding_type)}' is not supported`,
    );
  }
  const rules = new Map<string, TensorRule>();
  const pair = (hf: string, gguf: string, shape: number[]): void => {
    rules.set(`${hf}.weight`, { gguf: `${gguf}.weight`, shape });
    rules.set(`${hf}.bias`, { gguf: `${gguf}.bias`, shape: [shape[0]!] });
  };
  rules.set('embeddings.word_embeddings.weight', { gguf: 'token_embd.weight', shape: [V, H] });
  rules.set('embeddings.token_type_embeddings.weight', { gguf: 'token_types.weight', shape: [types, H] });
  rules.set('embeddings.position_embeddings.weight', { gguf: 'position_embd.weight', shape: [ctx, H] });
  pair('embeddings.LayerNorm', 'token_embd_norm', [H]);
  for (let i = 0; i < L; i++) {
    const p = `encoder.layer.${i}.`;
    const b = `blk.${i}.`;
    pair(`${p}attention.self.query`, `${b}attn_q`, [H, H]);
    pair(`${p}attention.self.key`, `${b}attn_k`, [H, H]);
    pair(`${p}attention.self.value`, `${b}attn_v`, [H, H]);
    pair(`${p}attention.output.dense`, `${b}attn_output`, [H, H]);
    pair(`${p}attention.output.LayerNorm`, `${b}attn_output_norm`, [H]);
    pair(`${p}intermediate.dense`, `${b}ffn_up`, [ff, H]);
    pair(`${p}output.dense`, `${b}ffn_down`, [H, ff]);
    pair(`${p}output.LayerNorm`, `${b}layer_output_norm`, [H]);
  }
  return {
    arch: 'bert',
    hfArch,
    vocab: V,
    metadata: [
      kv.u32('bert.context_length', ctx),
      kv.u32('bert.embedding_length', H),
      kv.u32('bert.block_count', L),
      kv.u32('bert.feed_forward_length', ff),
      kv.u32('bert.attention.head_count', heads),
      kv.f32('bert.attention.layer_norm_epsilon', eps),
      kv.bool('bert.attention.causal', false),
      kv.u32('bert.pooling_type', poolingType(pooling)),
      kv.u32('tokenizer.ggml.token_type_count', types),
    ],
    rules,
    ruleName: (raw) => {
      let n = raw.startsWith('bert.') ? raw.slice(5) : raw;
      if (n.endsWith('.gamma')) n = `${n.slice(0, -6)}.weight`;
      if (n.endsWith('.beta')) n = `${n.slice(0, -5)}.bias`;
      if (n === 'embeddings.position_ids' || n.startsWith('pooler.') || n.startsWith('cls.'))
        return undefined;
      return n;
    },
    tokenizer: {},
  };
}
