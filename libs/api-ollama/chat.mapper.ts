/** Ollama chat wire shapes ↔ the job protocol's chat messages and tool definitions. */
import { CorralError } from '@corral/common';
import type { ChatMessage, ToolCall, ToolDef } from '@corral/worker-protocol';
import type { z } from 'zod';
import type { ChatMessageBody, ToolBody } from './dto/requests';

export function toChatMessages(messages: z.infer<typeof ChatMessageBody>[]): ChatMessage[] {
  return messages.map((m, i) => {
    if (m.images && m.images.length > 0) {
      throw new CorralError('bad_request', `messages[${i}]: this model does not support images`, 'messages');
    }
    const toolCalls = m.tool_calls?.map((tc): ToolCall => {
      let args: unknown = tc.function.arguments ?? {};
      if (typeof args === 'string') {
        try {
          args = JSON.parse(args);
        } catch {
          throw new CorralError(
            'bad_request',
            `messages[${i}].tool_calls: arguments are not valid JSON`,
            'messages',
          );
        }
      }
      return { name: tc.function.name, arguments: (args ?? {}) as Record<string, unknown> };
    });
    return {
      role: m.role,
      content: m.content,
      ...(toolCalls ? { toolCalls } : {}),
      ...(m.tool_name ? { toolName: m.tool_name } : {}),
      ...(m.thinking ? { thinking: m.thinking } : {}),
    };
  });
}

export function toToolDefs(tools: z.infer<typeof ToolBody>[] | undefined): ToolDef[] | undefined {
  if (!tools || tools.length === 0) return undefined;
  return tools.map((t) => ({
    name: t.function.name,
    description: t.function.description,
    parameters: t.function.parameters,
  }));
}

/** Ollama's reply shape for tool calls. */
export function toWireToolCalls(
  calls: ToolCall[],
): { function: { index: number; name: string; arguments: Record<string, unknown> } }[] {
  return calls.map((c, index) => ({ function: { index, name: c.name, arguments: c.arguments } }));
}
