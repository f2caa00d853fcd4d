/**
 * A SentencePiece-style ("llama" tokenizer model) vocabulary for the tiny test models: specials,
 * the 256 byte-fallback tokens, and English word pieces with scores.
 */

/** llama.cpp token types (llama_token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

export interface Vocab {
  tokens: string[];
  scores: number[];
  types: number[];
}

export const UNK_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;

const SPACE = '\u2581';

// prettier-ignore
const WORDS = [
  'the', 'and', 'a', 'to', 'of', 'in', 'is', 'it', 'you', 'that', 'he', 'was', 'for', 'on', 'are',
  'with', 'as', 'I', 'his', 'they', 'be', 'at', 'one', 'have', 'this', 'from', 'or', 'had', 'by',
  'not', 'but', 'what', 'all', 'were', 'we', 'when', 'your', 'can', 'said', 'there', 'an', 'each',
  'which', 'she', 'do', 'how', 'their', 'if', 'will', 'up', 'about', 'out', 'many', 'then', 'them',
  'so', 'some', 'her', 'would', 'make', 'like', 'him', 'into', 'time', 'has', 'look', 'two', 'more',
  'go', 'see', 'no', 'way', 'could', 'my', 'than', 'first', 'been', 'who', 'its', 'now', 'people',
  'day', 'did', 'get', 'come', 'made', 'may', 'hello', 'Hello', 'world', 'model', 'answer',
  'question', 'please', 'thank', 'user', 'assistant', 'system', 'Once', 'upon', 'little', 'girl',
];
// prettier-ignore
const PIECES = ['ing', 'ed', 'er', 'es', 'ly', 'th', 'he', 'in', 're', 'on', 'at', 'en', 'an', 'or', 's', 't'];
const CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'":;-()';

/**
 * Every prefix of each piece, so llama.cpp's SPM tokenizer (which only merges two adjacent
 * symbols into a piece that is itself in the vocabulary) can always grow a piece left to right.
 */
function withPrefixes(pieces: string[]): string[] {
  const out: string[] = [];
  for (const p of pieces) {
    const chars = [...p];
    for (let i = 2; i <= chars.length; i++) out.push(chars.slice(0, i).join(''));
  }
  return out;
}

/**
 * Builds the vocabulary. `extra` pieces (already with ▁ for spaces) get the best scores so each
 * tokenizes as a single token; they are appended after the base vocabulary, and a base piece
 * equal to one of them is left out so every piece stays unique.
 */
export function buildVocab(extra: string[] = []): Vocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control];
  const scores = [0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_TYPE.byte);
    scores.push(0);
  }
  const seen = new Set(tokens);
  const add = (piece: string, score: number): void => {
    if (seen.has(piece)) return;
    seen.add(piece);
    tokens.push(piece);
    types.push(TOKEN_TYPE.normal);
    scores.push(score);
  };
  const extraSet = new Set([...extra, ...withPrefixes(extra)]);
  const base = [SPACE, ...CHARS, ...PIECES, ...withPrefixes(WORDS.flatMap((w) => [SPACE + w, w]))].filter(
    (p) => !extraSet.has(p),
  );
  // SentencePiece scores are log-probabilities: longer, rarer pieces score lower, single characters
  // score lowest so merges are preferred over them.
  let score = -1;
  for (const p of base.filter((p) => [...p].length > 1)) add(p, (score -= 0.01));
  for (const p of base.filter((p) => [...p].length <= 1)) add(p, (score -= 0.01));
  for (const p of withPrefixes(extra)) if (!extra.includes(p)) add(p, -0.5);
  for (const p of extra) add(p, 0);
  return { tokens, scores, types };
}
