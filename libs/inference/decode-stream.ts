import type { SequenceEvaluateOptions, Token } from 'node-llama-cpp';
import type { AddonSampler, InternalSequence } from './llama-internals';

export interface DecodeStreamOptions {
  sampling: Pick<
    SequenceEvaluateOptions,
    | 'temperature'
    | 'minP'
    | 'topK'
    | 'topP'
    | 'seed'
    | 'repeatPenalty'
    | 'tokenBias'
    | 'grammarEvaluationState'
  >;
  maxTokens: number;
  /** Tokens the sequence may hold; generation ends before a decode would exceed it. */
  contextLimit: number;
  /** End-of-generation and stop tokens: yielded, then the stream ends without decoding them. */
  isFinal: (token: Token) => boolean;
  /**
   * The tokens besides the model's end-of-generation tokens that `isFinal` accepts. Given, the stream
   * may run on the native loop, which checks them itself; without them it always runs here.
   */
  stopTokens?: Iterable<Token>;
  /** Ends the stream between steps (a cancel during a long prompt takes effect within one batch). */
  signal?: AbortSignal;
  /**
   * Re-read the sampling options before every token. Needed only when the repeat-penalty window is not
   * the plain last N tokens of the sequence (Ollama's `penalize_newline: false` leaves newlines out).
   */
  refreshSampler?: boolean;
  /** Called after each decode that advanced the context while the stream is in the loop (the job's progress watchdog). */
  onProgress?: () => void;
}

/** One sequence's place in the loop: its next token to decode and the tokens waiting for its consumer. */
export class DecodeStream {
  /** Tokens still to decode: the rest of the prompt, then each sampled token in turn. */
  pending: Token[];
  closed = false;
  private configured = false;
  private generated = 0;
  /** Sampled, not yet handed over (they are handed over while the next decode runs). */
  private readonly outbox: Token[] = [];
  private readonly ready: Token[] = [];
  private ended = false;
  private error: unknown;
  private wake?: () => void;
  private detached = false;
  private onDetached?: () => void;
  /** For the native loop: `options.stopTokens`, or null when the stream must run in JavaScript. */
  readonly stopTokens: Int32Array | null;

  constructor(
    readonly seq: InternalSequence,
    tokens: readonly Token[],
    readonly options: DecodeStreamOptions,
    readonly sampler: AddonSampler,
  ) {
    this.pending = [...tokens];
    this.stopTokens =
      options.stopTokens && !options.refreshSampler
        ? Int32Array.from(options.stopTokens as Iterable<number>)
        : null;
  }

  /** Whether the native loop can take the stream now: its prompt is in and nothing needs JavaScript per token. */
  nativeEligible(): boolean {
    return (
      this.stopTokens !== null && this.pending.length === 1 && !this.closed && !this.options.signal?.aborted
    );
  }

  get remainingTokens(): number {
    return this.options.maxTokens - this.generated;
  }

  /**
   * The sampler is configured once: after each sample the addon feeds the chosen token to the sampler's
   * repeat-penalty window and grammar itself, which is exactly the window the next config would carry.
   * Only a window that is not simply "the last N tokens" (`refreshSampler`) is handed over again every
   * token. (node-llama-cpp re-applies the whole config every token; on a small model that cost as much
   * as a third of the worker's JS time.)
   */
  configureSampler(): void {
    if (this.configured && !this.options.refreshSampler) return;
    this.sampler.applyConfig(this.seq._resolveSamplerConfig(this.options.sampling));
    this.configured = true;
  }

  /** The step decoded the first `count` pending tokens: they are now part of the sequence, as node-llama-cpp records it. */
  accepted(count: number): void {
    const done = this.pending.splice(0, count);
    for (const t of done) this.seq._contextTokens.push(t);
    this.seq._nextTokenIndex += done.length;
  }

  sampled(token: Token): void {
    this.generated += 1;
    this.outbox.push(token);
    const full = this.seq._nextTokenIndex + 1 > this.options.contextLimit;
    if (this.options.isFinal(token) || this.generated >= this.options.maxTokens || full) this.finish();
    else this.pending = [token];
  }

  /** Cancelled from outside: ends without an error (the caller reports the cancel). */
  cancel(): void {
    this.finish();
  }

  fail(e: unknown): void {
    this.error ??= e;
    this.finish();
  }

  /** Hands the sampled tokens to the consumer. */
  flush(): void {
    if (this.outbox.length === 0 && !this.ended) return;
    this.ready.push(...this.outbox.splice(0));
    this.wake?.();
  }

  async take(): Promise<Token | null> {
    for (;;) {
      const token = this.ready.shift();
      if (token !== undefined) return token;
      if (this.ended && this.outbox.length === 0) {
        if (this.error !== undefined) throw this.error;
        return null;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** The consumer is done; resolves once no step holds the sequence. */
  detach(): Promise<void> {
    this.closed = true;
    if (this.detached) return Promise.resolve();
    return new Promise((resolve) => (this.onDetached = resolve));
  }

  settleDetach(): void {
    this.detached = true;
    this.onDetached?.();
  }

  private finish(): void {
    this.ended = true;
    this.closed = true;
  }
}
