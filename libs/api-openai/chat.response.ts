/** A finished non-streamed chat run → OpenAI's `chat.completion` object. */
import type { DoneResult } from '@corral/worker-protocol';
import type { ToolMode } from './chat.mapper';
import { SYSTEM_FINGERPRINT } from './ids';
import { readChatOutput, type WireToolCall } from './tool-output';
import { finishReason, toUsage, type FinishReason, type Usage } from './usage.mapper';

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: string;
  choices: {
    index: 0;
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: WireToolCall[] };
    logprobs: null;
    finish_reason: FinishReason;
  }[];
  usage: Usage;
}

export function chatCompletion(
  meta: { id: string; created: number; model: string; toolMode: ToolMode },
  text: string,
  done: DoneResult,
): ChatCompletion {
  const { content, toolCalls } = readChatOutput(text, meta.toolMode);
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content,
          refusal: null,
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finishReason(done.doneReason, toolCalls.length > 0),
      },
    ],
    usage: toUsage(done),
  };
}
