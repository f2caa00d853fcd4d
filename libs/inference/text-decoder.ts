import type { LlamaModel, Token } from 'node-llama-cpp';

/** Tokens of one multi-byte character never exceed 4 byte tokens; the margin covers odd vocabularies. */
const MAX_PENDING_TOKENS = 8;

/**
 * Incremental detokenizer. A UTF-8 character may be spread over several byte-fallback tokens; decoding
 * them one at a time would emit U+FFFD halves, so tokens are held until they decode to whole
 * characters. Previous tokens are passed as context because SentencePiece vocabularies decide the
 * leading space of a piece from what precedes it.
 */
export class TokenTextDecoder {
  private readonly history: Token[] = [];
  private pending: Token[] = [];

  constructor(
    private readonly model: LlamaModel,
    /** Tokens already in the context before the first generated one (the prompt). */
    context: readonly Token[],
  ) {
    this.history.push(...context.slice(-MAX_PENDING_TOKENS));
  }

  /** Adds one token; returns the text that is now complete ('' while a character is incomplete). */
  push(token: Token): string {
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.history);
    if (text.endsWith('\uFFFD') && this.pending.length < MAX_PENDING_TOKENS) return '';
    this.commit();
    return text;
  }

  /** Whatever is still held (an incomplete character at the very end), decoded as-is. */
  flush(): string {
    if (this.pending.length === 0) return '';
    const text = this.model.detokenize(this.pending, false, this.history);
    this.commit();
    return text;
  }

  private commit(): void {
    this.history.push(...this.pending);
    this.history.splice(0, Math.max(0, this.history.length - MAX_PENDING_TOKENS));
    this.pending = [];
  }
}
