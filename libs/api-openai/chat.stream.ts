/**
 * A run's events → the `chat.completion.chunk` objects of an OpenAI stream, in OpenAI's order: a
 * role delta, content (or tool-call) deltas, a final delta with finish_reason, then with
 * include_usage one more chunk carrying usage and no choices.
 */
import type { DoneResult, GenerationEvent } from '@corral/worker-protocol';
import { CorralError } from '@corral/common';
import type { ToolMode } from './chat.mapper';
import { SYSTEM_FINGERPRINT, openAiId } from './ids';
import { ToolCallDetector } from '@corral/prompt';
import { forcedToolCall, toWireToolCall, type WireToolCall } from './tool-output';
import { finishReason, toUsage, type FinishReason, type Usage } from './usage.mapper';

export interface ChunkContext {
  id: string;
  created: number;
  model: string;
  toolMode: ToolMode;
  includeUsage: boolean;
  /**
   * Extension fields for the stream's end (grounded chat's `citations`), from the content streamed:
   * they ride on the usage chunk, or without include_usage on a chunk of their own with no choices.
   */
  final?: (content: string) => Record<string, unknown>;
}

export interface ChatDelta {
  role?: 'assistant';
  content?: string | null;
  tool_calls?: ToolCallDelta[];
}

/** OpenAI streams a call as a first delta with id, type and name, then `arguments` pieces. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: string;
  choices: { index: 0; delta: ChatDelta; logprobs: null; finish_reason: FinishReason | null }[];
  usage?: Usage | null;
}

export async function* chatChunks(
  events: AsyncIterable<GenerationEvent>,
  ctx: ChunkContext,
): AsyncGenerator<ChatCompletionChunk> {
  let content = '';
  const chunk = (delta: ChatDelta, finish: FinishReason | null = null): ChatCompletionChunk => {
    if (delta.content) content += delta.content;
    return chunkOf(delta, finish);
  };
  const chunkOf = (delta: ChatDelta, finish: FinishReason | null): ChatCompletionChunk => ({
    id: ctx.id,
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: ctx.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    // OpenAI marks every chunk but the last with usage: null once usage was asked for.
    ...(ctx.includeUsage ? { usage: null } : {}),
  });
  const mode = ctx.toolMode;
  // A forced single tool streams its arguments as they are generated, under one call id.
  const onlyTool = mode.kind === 'forced' && mode.tools.length === 1 ? mode.tools[0] : undefined;
  const streamedCall = onlyTool ? { id: openAiId('call_'), name: onlyTool.name } : undefined;
  const auto = mode.kind === 'auto' ? new ToolCallDetector([...mode.tools]) : undefined;
  let held = '';
  let done: DoneResult | undefined;

  yield chunk(
    mode.kind === 'forced' ? { role: 'assistant', content: null } : { role: 'assistant', content: '' },
  );
  if (streamedCall) {
    yield chunk({
      tool_calls: [
        {
          index: 0,
          id: streamedCall.id,
          type: 'function',
          function: { name: streamedCall.name, arguments: '' },
        },
      ],
    });
  }
  for await (const ev of events) {
    if (ev.type !== 'chunk') {
      done = ev;
      continue;
    }
    if (!ev.text) continue;
    if (streamedCall) {
      yield chunk({ tool_calls: [{ index: 0, function: { arguments: ev.text } }] });
    } else if (mode.kind === 'forced') {
      held += ev.text;
    } else {
      const text = auto ? auto.push(ev.text) : ev.text;
      if (text) yield chunk({ content: text });
    }
  }
  if (!done) throw new CorralError('internal', 'generation ended without a result');

  let calls: WireToolCall[] = [];
  if (auto) {
    const rest = auto.finish();
    calls = rest.toolCalls?.map(toWireToolCall) ?? [];
    if (rest.content) yield chunk({ content: rest.content });
  } else if (mode.kind === 'forced' && !streamedCall) {
    const call = forcedToolCall(held, mode.tools);
    if (call) calls = [call];
    else if (held) yield chunk({ content: held });
  }
  if (calls.length > 0) {
    yield chunk({ tool_calls: calls.map((c, index) => ({ index, ...c })) });
  }
  yield chunk({}, finishReason(done.doneReason, calls.length > 0 || streamedCall !== undefined));
  const extra = ctx.final?.(content);
  if (ctx.includeUsage || extra) {
    yield {
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: [],
      ...(ctx.includeUsage ? { usage: toUsage(done) } : {}),
      ...extra,
    };
  }
}
