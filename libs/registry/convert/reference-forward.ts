/**
 * A plain float32 forward pass over a tiny checkpoint's HF weights, written from the Hugging Face
 * modeling code (not from llama.cpp): RMSNorm, rotate-half RoPE, grouped-query causal attention,
 * SwiGLU (GeGLU for Gemma). Tests compare llama.cpp's logits on the converted GGUF against it.
 */
import type { TinyTensor } from './tiny-hf';

function w(tensors: Map<string, TinyTensor>, name: string): Float32Array {
  const t = tensors.get(name);
  if (!t) throw new Error(`reference: no tensor ${name}`);
  return t.data;
}

/** y = W x for W of shape [rows, cols] (PyTorch Linear). */
function matvec(W: Float32Array, x: Float32Array, rows: number, bias?: Float32Array): Float32Array {
  const cols = x.length;
  const y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) s += W[o + c]! * x[c]!;
    y[r] = s + (bias ? bias[r]! : 0);
  }
  return y;
}

function rmsnorm(x: Float32Array, weight: Float32Array, eps: number, plusOne: boolean): Float32Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * (plusOne ? 1 + weight[i]! : weight[i]!));
}

/** HF's inverse frequencies, with transformers' `_compute_llama3_parameters` when rope_type is llama3. */
function invFreqs(config: Record<string, unknown>, hd: number): number[] {
  const theta = config.rope_theta as number;
  const base = Array.from({ length: hd / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / hd));
  const r = config.rope_scaling as Record<string, number> | undefined;
  if ((r as { rope_type?: string } | undefined)?.rope_type !== 'llama3' || !r) return base;
  const lowWavelen = r.original_max_position_embeddings! / r.low_freq_factor!;
  const highWavelen = r.original_max_position_embeddings! / r.high_freq_factor!;
  return base.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowWavelen) return f / r.factor!;
    if (wavelen < highWavelen) return f;
    const smooth =
      (r.original_max_position_embeddings! / wavelen - r.low_freq_factor!) /
      (r.high_freq_factor! - r.low_freq_factor!);
    return (1 - smooth) * (f / r.factor!) + smooth * f;
  });
}

function rope(v: Float32Array, heads: number, hd: number, pos: number, inv: number[]): void {
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      const freq = pos * inv[i]!;
      const c = Math.cos(freq);
      const s = Math.sin(freq);
      const a = v[h * hd + i]!;
      const b = v[h * hd + i + half]!;
      v[h * hd + i] = a * c - b * s;
      v[h * hd + i + half] = b * c + a * s;
    }
  }
}

const silu = (x: number): number => x / (1 + Math.exp(-x));
const geluTanh = (x: number): number =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

/** Logits after the last token of `ids`. */
export function referenceLogits(
  config: Record<string, unknown>,
  tensors: Map<string, TinyTensor>,
  ids: number[],
): Float32Array {
  const H = config.hidden_size as number;
  const heads = config.num_attention_heads as number;
  const kvHeads = config.num_key_value_heads as number;
  const hd = (config.head_dim as number | undefined) ?? H / heads;
  const L = config.num_hidden_layers as number;
  const ff = config.intermediate_size as number;
  const V = config.vocab_size as number;
  const eps = config.rms_norm_eps as number;
  const inv = invFreqs(config, hd);
  const gemma = (config.architectures as string[])[0] === 'GemmaForCausalLM';
  const act = gemma ? geluTanh : silu;
  const embed = w(tensors, 'model.embed_tokens.weight');
  const has = (n: string): Float32Array | undefined => tensors.get(n)?.data;

  let xs: Float32Array[] = ids.map((id) => {
    const row = embed.slice(id * H, (id + 1) * H);
    if (gemma) {
      const scale = Math.sqrt(H);
      for (let i = 0; i < H; i++) row[i]! *= scale;
    }
    return row;
  });
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const ks: Float32Array[] = [];
    const vs: Float32Array[] = [];
    const next: Float32Array[] = [];
    for (let t = 0; t < xs.length; t++) {
      const x = xs[t]!;
      const h = rmsnorm(x, w(tensors, `${p}input_layernorm.weight`), eps, gemma);
      const q = matvec(
        w(tensors, `${p}self_attn.q_proj.weight`),
        h,
        heads * hd,
        has(`${p}self_attn.q_proj.bias`),
      );
      const k = matvec(
        w(tensors, `${p}self_attn.k_proj.weight`),
        h,
        kvHeads * hd,
        has(`${p}self_attn.k_proj.bias`),
      );
      const v = matvec(
        w(tensors, `${p}self_attn.v_proj.weight`),
        h,
        kvHeads * hd,
        has(`${p}self_attn.v_proj.bias`),
      );
      rope(q, heads, hd, t, inv);
      rope(k, kvHeads, hd, t, inv);
      ks.push(k);
      vs.push(v);
      const att = new Float32Array(heads * hd);
      for (let hh = 0; hh < heads; hh++) {
        const kvh = Math.floor(hh / (heads / kvHeads));
        const scores = ks.map((kk) => {
          let s = 0;
          for (let i = 0; i < hd; i++) s += q[hh * hd + i]! * kk[kvh * hd + i]!;
          return s / Math.sqrt(hd);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < e.length; j++) {
          for (let i = 0; i < hd; i++) att[hh * hd + i]! += (e[j]! / sum) * vs[j]![kvh * hd + i]!;
        }
      }
      const o = matvec(w(tensors, `${p}self_attn.o_proj.weight`), att, H);
      const x2 = x.map((v0, i) => v0 + o[i]!);
      const h2 = rmsnorm(x2, w(tensors, `${p}post_attention_layernorm.weight`), eps, gemma);
      const g = matvec(w(tensors, `${p}mlp.gate_proj.weight`), h2, ff);
      const u = matvec(w(tensors, `${p}mlp.up_proj.weight`), h2, ff);
      const d = matvec(
        w(tensors, `${p}mlp.down_proj.weight`),
        g.map((gv, i) => act(gv) * u[i]!),
        H,
      );
      next.push(x2.map((v0, i) => v0 + d[i]!));
    }
    xs = next;
  }
  const last = rmsnorm(xs[xs.length - 1]!, w(tensors, 'model.norm.weight'), eps, gemma);
  return matvec(has('lm_head.weight') ?? embed, last, V);
}
