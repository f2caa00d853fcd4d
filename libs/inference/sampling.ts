import type { SequenceEvaluateOptions, Token } from 'node-llama-cpp';
import type { Sampling } from '@corral/worker-protocol';

/** Ollama's defaults for fields the request leaves out (its `api.DefaultOptions`). */
export const SAMPLING_DEFAULTS = {
  temperature: 0.8,
  topK: 40,
  topP: 0.9,
  minP: 0,
  repeatPenalty: 1.1,
  repeatLastN: 64,
  presencePenalty: 0,
  frequencyPenalty: 0,
  penalizeNewline: true,
} as const;

export interface SamplingContext {
  /** Every token of the sequence so far (prompt + generated), oldest first. */
  history: () => readonly Token[];
  /** Context length of the sequence; `repeatLastN: -1` means all of it. */
  contextSize: number;
  newlineToken: Token | null;
}

/**
 * Maps protocol sampling fields onto node-llama-cpp's per-evaluation options. Temperature 0 is greedy
 * in node-llama-cpp as in llama.cpp. `typicalP` has no counterpart in node-llama-cpp's sampler chain
 * and is ignored; `numPredict`, `stop` and `numKeep` are handled by the generation loop.
 */
export function toEvaluateOptions(s: Sampling, ctx: SamplingContext): SequenceEvaluateOptions {
  const opts: SequenceEvaluateOptions = {
    temperature: s.temperature ?? SAMPLING_DEFAULTS.temperature,
    topK: s.topK ?? SAMPLING_DEFAULTS.topK,
    topP: s.topP ?? SAMPLING_DEFAULTS.topP,
    minP: s.minP ?? SAMPLING_DEFAULTS.minP,
  };
  if (s.seed !== undefined && s.seed >= 0) opts.seed = s.seed % 2 ** 32;

  const penalty = s.repeatPenalty ?? SAMPLING_DEFAULTS.repeatPenalty;
  const presence = s.presencePenalty ?? SAMPLING_DEFAULTS.presencePenalty;
  const frequency = s.frequencyPenalty ?? SAMPLING_DEFAULTS.frequencyPenalty;
  const lastNRaw = s.repeatLastN ?? SAMPLING_DEFAULTS.repeatLastN;
  // Never past the context: llama.cpp sizes the penalty window's ring buffer by it (1e9 → 7.7 GB).
  const lastN = lastNRaw === -1 ? ctx.contextSize : Math.min(lastNRaw, ctx.contextSize);
  const active = lastN > 0 && (penalty !== 1 || presence !== 0 || frequency !== 0);
  if (active) {
    const penalizeNewline = s.penalizeNewline ?? SAMPLING_DEFAULTS.penalizeNewline;
    const nl = ctx.newlineToken;
    opts.repeatPenalty = {
      punishTokens: () => {
        const recent = ctx.history().slice(-lastN);
        return penalizeNewline || nl === null ? recent : recent.filter((t) => t !== nl);
      },
      maxPunishTokens: lastN,
      penalty,
      presencePenalty: presence,
      frequencyPenalty: frequency,
    };
  }
  return opts;
}

/**
 * Whether the repeat-penalty window leaves tokens out (newlines, with `penalizeNewline: false`), so it is
 * not simply the last N tokens the sampler has seen and must be handed over again every token.
 */
export function penaltyWindowIsFiltered(s: Sampling, newlineToken: Token | null): boolean {
  const opts = toEvaluateOptions(s, { history: () => [], contextSize: 1, newlineToken });
  return (
    opts.repeatPenalty !== undefined &&
    newlineToken !== null &&
    !(s.penalizeNewline ?? SAMPLING_DEFAULTS.penalizeNewline)
  );
}

/** Token budget from `numPredict`: -1 (until done) and -2 (fill the context) are both unbounded here. */
export function maxNewTokens(s: Sampling): number {
  return s.numPredict < 0 ? Number.POSITIVE_INFINITY : s.numPredict;
}
