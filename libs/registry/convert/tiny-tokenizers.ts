/**
 * Small but real Hugging Face tokenizer.json files for tests: a SentencePiece-style BPE with byte
 * fallback (Llama, Mistral, Gemma) and a byte-level BPE with Qwen2's split regex. Merges are built
 * as prefix chains over a word list, so every merge result is in the vocabulary.
 */

const WORDS = [
  'the',
  'a',
  'and',
  'was',
  'little',
  'girl',
  'named',
  'Lily',
  'Once',
  'upon',
  'time',
  'there',
  'hello',
  'Hello',
  'world',
  'big',
  'dog',
  'cat',
  'ran',
  'to',
  'park',
  'is',
  'in',
  'it',
  'he',
  'she',
  'said',
  'play',
  'happy',
  'day',
  'sun',
  'from',
  'Corral',
];
const SUFFIXES = ['ing', 'ed', 'er', 'ly'];
const CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'"-:;()'];

export interface TinyTokenizer {
  tokenizer: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Number of tokens (vocabulary plus added tokens). */
  size: number;
  bosId?: number;
  eosId: number;
}

function chains(words: string[], vocab: Map<string, number>, merges: [string, string][]): void {
  for (const w of words) {
    const pieces = [...w];
    let cur = pieces[0]!;
    for (const p of pieces.slice(1)) {
      const next = cur + p;
      if (!vocab.has(next)) {
        merges.push([cur, p]);
        vocab.set(next, vocab.size);
      }
      cur = next;
    }
  }
}

/** SentencePiece-style: <unk> <s> </s>, 256 byte tokens, characters, merges. */
export function sentencePieceTokenizer(opts: {
  prependSpace: boolean;
  chatTemplate?: string;
}): TinyTokenizer {
  const specials = ['<unk>', '<s>', '</s>'];
  const vocab = new Map<string, number>();
  for (const s of specials) vocab.set(s, vocab.size);
  for (let b = 0; b < 256; b++) vocab.set(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, vocab.size);
  for (const c of ['▁', ...CHARS]) vocab.set(c, vocab.size);
  const merges: [string, string][] = [];
  chains([...WORDS.map((w) => `▁${w}`), ...SUFFIXES], vocab, merges);
  const normalizers: unknown[] = [{ type: 'Replace', pattern: { String: ' ' }, content: '▁' }];
  if (opts.prependSpace) normalizers.unshift({ type: 'Prepend', prepend: '▁' });
  const added = specials.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(opts.prependSpace ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const config: Record<string, unknown> = {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    legacy: true,
    tokenizer_class: 'LlamaTokenizer',
    clean_up_tokenization_spaces: false,
  };
  if (opts.chatTemplate) config.chat_template = opts.chatTemplate;
  return { tokenizer, config, size: vocab.size, bosId: 1, eosId: 2 };
}

/** GPT-2's reversible byte → printable character map. */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + n++);
  return out;
}

const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * Byte-level BPE: Qwen2-style (ChatML specials, no BOS) or Llama 3-style (its split regex,
 * ignore_merges, a BOS added by the post-processor).
 */
export function byteLevelTokenizer(style: 'qwen2' | 'llama3' = 'qwen2'): TinyTokenizer {
  const llama3 = style === 'llama3';
  const b2u = bytesToUnicode();
  const vocab = new Map<string, number>();
  for (let b = 0; b < 256; b++) vocab.set(b2u[b]!, b);
  const merges: [string, string][] = [];
  const space = b2u[32]!;
  chains([...WORDS.map((w) => `${space}${w}`), ...WORDS, ...SUFFIXES], vocab, merges);
  const specials = llama3
    ? ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>']
    : ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
  const added = specials.map((content, i) => ({
    id: vocab.size + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: llama3 ? null : { type: 'NFC' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: llama3 ? LLAMA3_REGEX : QWEN2_REGEX },
          behavior: 'Isolated',
          invert: false,
        },
        byteLevel,
      ],
    },
    post_processor: llama3
      ? {
          type: 'Sequence',
          processors: [
            byteLevel,
            {
              type: 'TemplateProcessing',
              single: [
                { SpecialToken: { id: specials[0], type_id: 0 } },
                { Sequence: { id: 'A', type_id: 0 } },
              ],
              pair: [
                { SpecialToken: { id: specials[0], type_id: 0 } },
                { Sequence: { id: 'A', type_id: 0 } },
                { SpecialToken: { id: specials[0], type_id: 1 } },
                { Sequence: { id: 'B', type_id: 1 } },
              ],
              special_tokens: {
                [specials[0]!]: { id: specials[0], ids: [vocab.size], tokens: [specials[0]] },
              },
            },
          ],
        }
      : byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: llama3,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([a, b]) => [a, b]),
    },
  };
  const config = llama3
    ? {
        bos_token: specials[0],
        eos_token: specials[2],
        clean_up_tokenization_spaces: true,
        model_max_length: 131072,
        tokenizer_class: 'PreTrainedTokenizerFast',
      }
    : {
        add_prefix_space: false,
        bos_token: null,
        eos_token: '<|im_end|>',
        pad_token: '<|endoftext|>',
        unk_token: null,
        chat_template: CHATML,
        errors: 'replace',
        model_max_length: 32768,
        tokenizer_class: 'Qwen2Tokenizer',
        clean_up_tokenization_spaces: false,
        split_special_tokens: false,
      };
  return {
    tokenizer,
    config,
    size: vocab.size + specials.length,
    bosId: llama3 ? vocab.size : undefined,
    eosId: vocab.size + 2,
  };
}
