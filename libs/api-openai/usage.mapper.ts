/** A finished run (`done` event) → OpenAI's usage and finish_reason. */
import type { DoneResult } from '@corral/worker-protocol';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export function toUsage(done: Pick<DoneResult, 'promptTokens' | 'completionTokens'>): Usage {
  return {
    prompt_tokens: done.promptTokens,
    completion_tokens: done.completionTokens,
    total_tokens: done.promptTokens + done.completionTokens,
  };
}

/**
 * A run cut by max_tokens reports "length" even when it was producing a tool call, as OpenAI does:
 * the arguments are then incomplete and the client must know. A cancelled run only happens when
 * the client went away, so what it is told hardly matters; "stop" keeps the type honest.
 */
export function finishReason(doneReason: DoneResult['doneReason'], hasToolCalls: boolean): FinishReason {
  if (doneReason === 'length') return 'length';
  return hasToolCalls ? 'tool_calls' : 'stop';
}
