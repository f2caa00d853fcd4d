/**
 * Reading tool calls out of generated text and writing them in OpenAI's shape. (Streams in "auto"
 * mode use @corral/prompt's ToolCallDetector, which holds back only what starts like a call.)
 */
import type { ToolDef } from '@corral/worker-protocol';
import { extractToolCalls } from '@corral/prompt';
import { openAiId } from './ids';
import type { ToolMode } from './chat.mapper';

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export function toWireToolCall(call: {
  id?: string;
  name: string;
  arguments: Record<string, unknown> | string;
}): WireToolCall {
  return {
    id: call.id ?? openAiId('call_'),
    type: 'function',
    function: {
      name: call.name,
      arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
    },
  };
}

/**
 * Output of a forced call. With one candidate tool the output is the arguments object, kept
 * verbatim as OpenAI's `arguments` string; with several it is `{"name", "arguments"}`.
 */
export function forcedToolCall(text: string, tools: readonly ToolDef[]): WireToolCall | null {
  const [only] = tools;
  if (tools.length === 1 && only) return toWireToolCall({ name: only.name, arguments: text.trim() });
  try {
    const parsed = JSON.parse(text) as { name?: unknown; arguments?: unknown };
    if (typeof parsed.name !== 'string' || typeof parsed.arguments !== 'object' || parsed.arguments === null)
      return null;
    return toWireToolCall({ name: parsed.name, arguments: parsed.arguments as Record<string, unknown> });
  } catch {
    // Cut short by max_tokens: no complete call to report.
    return null;
  }
}

/** The whole output of a non-streamed run → message content and tool calls. */
export function readChatOutput(
  text: string,
  mode: ToolMode,
): { content: string | null; toolCalls: WireToolCall[] } {
  switch (mode.kind) {
    case 'none':
      return { content: text, toolCalls: [] };
    case 'auto': {
      const found = extractToolCalls(text, mode.tools);
      if (!found?.calls.length) return { content: text, toolCalls: [] };
      // OpenAI sends null content beside tool calls unless the model also said something.
      return { content: found.content || null, toolCalls: found.calls.map(toWireToolCall) };
    }
    case 'forced': {
      const call = forcedToolCall(text, mode.tools);
      return call ? { content: null, toolCalls: [call] } : { content: text, toolCalls: [] };
    }
  }
}
