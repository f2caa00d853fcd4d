/**
 * tokenizer.json (+ tokenizer_config.json) → GGUF tokenizer metadata, following llama.cpp's
 * convert_hf_to_gguf.py: byte-level BPE becomes `gpt2` with merges and a pre-tokenizer name that
 * llama.cpp maps to the same split regex; SentencePiece-style BPE (byte_fallback, `▁` for spaces)
 * becomes `llama` with scores that reproduce the merge order. Anything else is refused by name.
 */
import { CorralError } from '@corral/common';
import { kv, type GgufKV } from '../gguf';

/** GGUF token types (gguf-py TokenType). */
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const USER_DEFINED = 4;
const UNUSED = 5;
const BYTE = 6;

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

export interface TokenizerJson {
  added_tokens?: AddedToken[];
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  decoder?: unknown;
  model?: {
    type?: string;
    vocab?: Record<string, number> | unknown;
    merges?: (string | [string, string])[];
    byte_fallback?: boolean;
    unk_token?: string | null;
  };
}

export type TokenizerConfig = Record<string, unknown>;

/** Split regexes of tokenizer.json pre-tokenizers and the llama.cpp pre-tokenizer that matches each. */
const PRE_TOKENIZERS: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    'llama-bpe',
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+":
    'qwen2',
};

function unsupported(message: string): CorralError {
  return new CorralError('unsupported', `tokenizer.json: ${message}`);
}

function jsonStr(v: unknown): string {
  return JSON.stringify(v);
}

/** Which llama.cpp pre-tokenizer reproduces a byte-level BPE tokenizer's splitting. */
export function preTokenizerName(tok: TokenizerJson): string {
  const pre = tok.pre_tokenizer as { type?: string; use_regex?: boolean; pretokenizers?: unknown[] } | null;
  if (pre?.type === 'ByteLevel' && pre.use_regex !== false) return 'gpt-2';
  if (pre?.type === 'Sequence' && Array.isArray(pre.pretokenizers)) {
    const split = pre.pretokenizers.find((p) => (p as { type?: string }).type === 'Split') as
      { pattern?: { Regex?: string } } | undefined;
    const regex = split?.pattern?.Regex;
    if (regex !== undefined) {
      const name = PRE_TOKENIZERS[regex];
      if (name) return name;
      throw unsupported(`pre-tokenizer regex ${jsonStr(regex)} is not one llama.cpp implements`);
    }
  }
  throw unsupported(`pre-tokenizer ${jsonStr(pre)} is not supported for byte-level BPE`);
}

function isSentencePieceStyle(tok: TokenizerJson): boolean {
  return tok.model?.type === 'BPE' && tok.model.byte_fallback === true;
}

function isByteLevel(tok: TokenizerJson): boolean {
  const pre = tok.pre_tokenizer as { type?: string; pretokenizers?: { type?: string }[] } | null;
  if (pre?.type === 'ByteLevel') return true;
  return !!pre?.pretokenizers?.some((p) => p.type === 'ByteLevel');
}

/** Whether the normalizer prepends `▁` (SentencePiece's add_dummy_prefix). */
function prependsSpace(tok: TokenizerJson): boolean {
  const n = tok.normalizer as { type?: string; prepend?: string; normalizers?: unknown[] } | null;
  const all = n?.type === 'Sequence' ? (n.normalizers ?? []) : [n];
  if (all.some((x) => (x as { type?: string } | null)?.type === 'Prepend')) return true;
  // Newer Llama/Mistral exports put the prefix in a Metaspace pre-tokenizer instead.
  const pre = tok.pre_tokenizer as { type?: string; prepend_scheme?: string } | null;
  return pre?.type === 'Metaspace' && pre.prepend_scheme !== 'never';
}

function mergePair(m: string | [string, string]): [string, string] {
  if (Array.isArray(m)) return m;
  const i = m.indexOf(' ', 1);
  if (i < 0) throw unsupported(`merge ${jsonStr(m)} is malformed`);
  return [m.slice(0, i), m.slice(i + 1)];
}

function tokenValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

/** Whether the post-processor puts BOS first (Llama-style TemplateProcessing). */
function postProcessorAddsBos(tok: TokenizerJson, bos: string | undefined): boolean {
  const pp = tok.post_processor as { type?: string; single?: unknown[]; processors?: unknown[] } | null;
  const procs = pp?.type === 'Sequence' ? (pp.processors ?? []) : [pp];
  for (const p of procs as ({ type?: string; single?: { SpecialToken?: { id?: string } }[] } | null)[]) {
    if (p?.type !== 'TemplateProcessing') continue;
    const first = p.single?.[0]?.SpecialToken?.id;
    return first !== undefined && first === bos;
  }
  return false;
}

/**
 * Builds the tokenizer metadata. `vocabSize` is the embedding's row count: the token list is
 * padded to it (as the converter does), and a tokenizer larger than the embedding is refused.
 */
export function convertTokenizer(
  tok: TokenizerJson,
  cfg: TokenizerConfig,
  modelConfig: Record<string, unknown>,
  vocabSize: number,
  opts: { forceSpaceless?: boolean } = {},
): GgufKV[] {
  const model = tok.model;
  if (model?.type === 'WordPiece') return wordPieceTokenizer(tok, cfg, vocabSize);
  if (!model || model.type !== 'BPE') {
    throw unsupported(`model type '${String(model?.type)}' is not supported (BPE only)`);
  }
  const vocab = model.vocab;
  if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab))
    throw unsupported('model.vocab is missing');
  const spm = isSentencePieceStyle(tok);
  if (!spm && !isByteLevel(tok)) {
    throw unsupported('BPE without byte_fallback or a ByteLevel pre-tokenizer is not supported');
  }

  const tokens: (string | undefined)[] = new Array<string | undefined>(vocabSize);
  const put = (text: string, id: number): void => {
    if (!Number.isInteger(id) || id < 0) throw unsupported(`token ${jsonStr(text)} has invalid id ${id}`);
    if (id >= vocabSize) {
      throw new CorralError(
        'invalid_model_file',
        `tokenizer.json: token ${jsonStr(text)} has id ${id} but the model's embedding has only ${vocabSize} rows`,
      );
    }
    tokens[id] = text;
  };
  for (const [text, id] of Object.entries(vocab as Record<string, number>)) put(text, id);
  const added = new Map<number, AddedToken>();
  for (const a of tok.added_tokens ?? []) {
    put(a.content, a.id);
    added.set(a.id, a);
  }

  const merges = (model.merges ?? []).map(mergePair);
  const types: number[] = [];
  const texts: string[] = [];
  const scores: number[] = [];
  const rank = new Map<string, number>();
  if (spm) merges.forEach(([a, b], r) => rank.has(a + b) || rank.set(a + b, r));
  const unk = model.unk_token ?? undefined;
  for (let id = 0; id < vocabSize; id++) {
    const t = tokens[id];
    const a = added.get(id);
    if (t === undefined) {
      texts.push(`[PAD${id}]`);
      types.push(UNUSED);
      scores.push(-1000);
      continue;
    }
    texts.push(a && !a.special && !spm ? t.replaceAll('▁', ' ') : t);
    if (spm && t === unk) types.push(UNKNOWN);
    else if (a) types.push(a.special ? CONTROL : USER_DEFINED);
    else if (spm && /^<0x[0-9A-Fa-f]{2}>$/.test(t)) types.push(BYTE);
    else types.push(NORMAL);
    // llama.cpp's SentencePiece tokenizer merges the best-scoring pair first: -rank keeps HF's order.
    const r = rank.get(t);
    scores.push(r === undefined ? (a ? -1000 : 0) : -r);
  }

  const meta: GgufKV[] = [kv.str('tokenizer.ggml.model', spm ? 'llama' : 'gpt2')];
  meta.push(kv.str('tokenizer.ggml.pre', spm ? 'default' : preTokenizerName(tok)));
  meta.push(kv.arr('tokenizer.ggml.tokens', 'string', texts));
  if (spm) meta.push(kv.arr('tokenizer.ggml.scores', 'float32', scores));
  meta.push(kv.arr('tokenizer.ggml.token_type', 'int32', types));
  if (!spm)
    meta.push(
      kv.arr(
        'tokenizer.ggml.merges',
        'string',
        merges.map(([a, b]) => `${a} ${b}`),
      ),
    );

  const idOf = (name: string): number | undefined => {
    const text = tokenValue(cfg[`${name}_token`]);
    if (text !== undefined) {
      const id = texts.indexOf(text);
      if (id >= 0) return id;
    }
    const fromConfig = modelConfig[`${name}_token_id`];
    const n = Array.isArray(fromConfig) ? fromConfig[0] : fromConfig;
    return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < vocabSize ? n : undefined;
  };
  const bos = idOf('bos');
  const eos = idOf('eos');
  const pad = idOf('pad');
  if (bos !== undefined) meta.push(kv.u32('tokenizer.ggml.bos_token_id', bos));
  if (eos !== undefined) meta.push(kv.u32('tokenizer.ggml.eos_token_id', eos));
  if (spm && unk !== undefined && texts.includes(unk))
    meta.push(kv.u32('tokenizer.ggml.unknown_token_id', texts.indexOf(unk)));
  if (pad !== undefined) meta.push(kv.u32('tokenizer.ggml.padding_token_id', pad));

  const bosText = bos === undefined ? undefined : texts[bos];
  const addBos =
    typeof cfg.add_bos_token === 'boolean' ? cfg.add_bos_token : postProcessorAddsBos(tok, bosText);
  meta.push(kv.bool('tokenizer.ggml.add_bos_token', addBos && bos !== undefined));
  meta.push(kv.bool('tokenizer.ggml.add_eos_token', cfg.add_eos_token === true));
  if (spm) meta.push(kv.bool('tokenizer.ggml.add_space_prefix', !opts.forceSpaceless && prependsSpace(tok)));

  const template = chatTemplate(cfg);
  if (template) meta.push(kv.str('tokenizer.chat_template', template));
  return meta;
}

/** tokenizer_config.json's chat_template: a string, or a list of named templates (the "default" one wins). */
function chatTemplate(cfg: TokenizerConfig): string | undefined {
  const t = cfg.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t as { name?: string; template?: string }[];
    return (named.find((x) => x.name === 'default') ?? named[0])?.template;
  }
  return undefined;
}

/**
 * BERT's WordPiece → llama.cpp `bert` vocabulary: llama.cpp marks word starts with a phantom `▁`
 * instead of marking continuations with `##`, so "##ing" becomes "ing" and "walk" becomes "▁walk".
 */
function wordPieceTokenizer(tok: TokenizerJson, cfg: TokenizerConfig, vocabSize: number): GgufKV[] {
  const vocab = tok.model?.vocab as Record<string, number> | undefined;
  if (!vocab || typeof vocab !== 'object') throw unsupported('model.vocab is missing');
  const texts: string[] = Array.from({ length: vocabSize }, (_, i) => `[PAD${i}]`);
  const types: number[] = new Array<number>(vocabSize).fill(UNUSED);
  const special = new Set((tok.added_tokens ?? []).filter((a) => a.special).map((a) => a.id));
  for (const [text, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new CorralError(
        'invalid_model_file',
        `tokenizer.json: token ${jsonStr(text)} has id ${id}, outside the embedding (${vocabSize} rows)`,
      );
    }
    const control = special.has(id);
    texts[id] = control ? text : text.startsWith('##') ? text.slice(2) : `\u2581${text}`;
    types[id] = control ? CONTROL : NORMAL;
  }
  const meta: GgufKV[] = [
    kv.str('tokenizer.ggml.model', 'bert'),
    kv.str('tokenizer.ggml.pre', 'default'),
    kv.arr('tokenizer.ggml.tokens', 'string', texts),
    kv.arr('tokenizer.ggml.token_type', 'int32', types),
  ];
  const id = (key: string): number | undefined => {
    const t = tokenValue(cfg[key]);
    const v = t === undefined ? undefined : vocab[t];
    return typeof v === 'number' ? v : undefined;
  };
  const ids: [string, number | undefined][] = [
    ['tokenizer.ggml.bos_token_id', id('cls_token')],
    ['tokenizer.ggml.cls_token_id', id('cls_token')],
    ['tokenizer.ggml.seperator_token_id', id('sep_token')],
    ['tokenizer.ggml.unknown_token_id', id('unk_token')],
    ['tokenizer.ggml.padding_token_id', id('pad_token')],
    ['tokenizer.ggml.mask_token_id', id('mask_token')],
  ];
  for (const [key, v] of ids) if (v !== undefined) meta.push(kv.u32(key, v));
  meta.push(kv.bool('tokenizer.ggml.add_bos_token', id('cls_token') !== undefined));
  meta.push(kv.bool('tokenizer.ggml.add_sep_token', id('sep_token') !== undefined));
  return meta;
}
