import type { LlamaModel, Token } from 'node-llama-cpp';

/** Tokens of one multi-byte character never exceed 4 byte tokens; the margin covers odd vocabularies. */
const MAX_PENDING_TOKENS = 8;

/**
 * Incremental detokenizer. A UTF-8 character may be spread over several byte-fallback tokens; decoding
 * them one at a time would emit U+FFFD halves, so the tokens of an incomplete character are held until
 * it is whole. Only those: bytes that can no longer become a character (a stray continuation byte, a
 * lead byte followed by something else) are emitted at once as U+FFFD, as llama-server does, so a
 * model that emits invalid bytes still streams token by token instead of in bursts of held tokens.
 * Previous tokens are passed as context because SentencePiece vocabularies decide the leading space of
 * a piece from what precedes it.
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
    const text = this.decode(this.pending);
    if (!text.endsWith('\uFFFD') || this.pending.length >= MAX_PENDING_TOKENS) {
      this.commit(this.pending.length);
      return text;
    }
    // The text ends in U+FFFD: an incomplete character (hold it) or bytes that are already invalid.
    // Hold only the shortest tail of tokens that is the trailing U+FFFD; what precedes it is final.
    for (let tail = 1; tail < this.pending.length; tail++) {
      const head = this.decode(this.pending.slice(0, -tail));
      if (head + '\uFFFD' === text) {
        this.commit(this.pending.length - tail);
        return head;
      }
    }
    return '';
  }

  /** Whatever is still held (an incomplete character at the very end), decoded as-is. */
  flush(): string {
    if (this.pending.length === 0) return '';
    const text = this.decode(this.pending);
    this.commit(this.pending.length);
    return text;
  }

  private decode(tokens: Token[]): string {
    return this.model.detokenize(tokens, false, this.history);
  }

  /** The first `count` pending tokens are emitted: they become context for the rest. */
  private commit(count: number): void {
    this.history.push(...this.pending.slice(0, count));
    this.history.splice(0, Math.max(0, this.history.length - MAX_PENDING_TOKENS));
    this.pending = this.pending.slice(count);
  }
}
