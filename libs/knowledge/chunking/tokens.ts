/**
 * The default token counter: an estimate close to BPE/WordPiece counts without loading a
 * tokenizer. A word costs one token per 4 characters (rounded up), each punctuation mark or
 * symbol one, each CJK character one; whitespace is free. It is additive over whitespace-separated
 * pieces, which the chunker relies on for speed.
 */
const PIECE = /[\p{L}\p{M}\p{N}_]+|[^\s\p{L}\p{M}\p{N}_]/gu;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu;

export function estimateTokens(text: string): number {
  let n = 0;
  for (const m of text.matchAll(PIECE)) {
    const w = m[0];
    if (w.length === 1) {
      n++;
      continue;
    }
    const cjk = w.match(CJK)?.length ?? 0;
    n += cjk + Math.ceil((w.length - cjk) / 4);
  }
  return n;
}
