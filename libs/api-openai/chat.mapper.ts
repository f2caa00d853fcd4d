/**
 * POST /v1/chat/completions request → what a run needs: Ollama options, the chat prompt input, the
 * grammar constraint, and how the output is to be read (plain text, maybe tool calls, or a forced
 * tool call).
 */
import { CorralError } from '@corral/common';
import type { ChatMessage, Constraint, ToolCall, ToolDef } from '@corral/worker-protocol';
import type { OllamaOptions } from '@corral/dispatch';
import type {
  ChatMessageIn,
  ChatRequest,
  ContentPart,
  ResponseFormat,
  ToolChoice,
  ToolIn,
} from './dto/chat.dto';
import { rejectUnsupported, toOllamaOptions } from './sampling.mapper';
import { forcedToolSchema, relaxSchema } from './tool-schema';

/** How the generated text is read back. */
export type ToolMode =
  | { kind: 'none' }
  /** The model may answer or call tools; calls are parsed from its output. */
  | { kind: 'auto'; tools: ToolDef[] }
  /** The grammar forces a call to one of `tools`. With exactly one, the output is its arguments. */
  | { kind: 'forced'; tools: ToolDef[] };

export interface ChatPlan {
  model: string;
  options: OllamaOptions;
  messages: ChatMessage[];
  /** Tools shown to the model's template (absent when tool_choice is "none"). */
  tools?: ToolDef[];
  constraint?: Constraint;
  toolMode: ToolMode;
  stream: boolean;
  includeUsage: boolean;
}

export function planChat(req: ChatRequest): ChatPlan {
  rejectUnsupported(req);
  if (req.logprobs) throw new CorralError('unsupported', `'logprobs' is not supported`, 'logprobs');
  if (req.top_logprobs !== undefined && req.top_logprobs !== null) {
    throw new CorralError('unsupported', `'top_logprobs' is not supported`, 'top_logprobs');
  }
  const toolMode = toToolMode(req.tools ?? [], req.tool_choice ?? undefined);
  const constraint =
    toolMode.kind === 'forced'
      ? { type: 'json_schema' as const, schema: forcedToolSchema(toolMode.tools) }
      : toConstraint(req.response_format ?? undefined);
  return {
    model: req.model,
    options: toOllamaOptions(req),
    messages: toChatMessages(req.messages),
    tools: toolMode.kind === 'none' ? undefined : toolMode.tools,
    constraint,
    toolMode,
    stream: req.stream === true,
    includeUsage: req.stream === true && req.stream_options?.include_usage === true,
  };
}

export function toToolDef(tool: ToolIn): ToolDef {
  const f = tool.function;
  return {
    name: f.name,
    ...(f.description ? { description: f.description } : {}),
    ...(f.parameters ? { parameters: f.parameters } : {}),
  };
}

/** OpenAI's default is "auto" when tools are given and "none" when not. */
export function toToolMode(toolsIn: readonly ToolIn[], choice: ToolChoice | undefined): ToolMode {
  const tools = toolsIn.map(toToolDef);
  if (tools.length === 0) {
    if (choice === 'required' || typeof choice === 'object') {
      throw new CorralError('bad_request', `'tool_choice' requires 'tools'`, 'tool_choice');
    }
    return { kind: 'none' };
  }
  if (choice === undefined || choice === 'auto') return { kind: 'auto', tools };
  if (choice === 'none') return { kind: 'none' };
  if (choice === 'required') return { kind: 'forced', tools };
  const named = tools.find((t) => t.name === choice.function.name);
  if (!named) {
    throw new CorralError(
      'bad_request',
      `tool_choice names '${choice.function.name}', which is not in 'tools'`,
      'tool_choice',
    );
  }
  return { kind: 'forced', tools: [named] };
}

export function toConstraint(format: ResponseFormat | undefined): Constraint | undefined {
  switch (format?.type) {
    case undefined:
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json' };
    case 'json_schema': {
      const schema = format.json_schema.schema;
      if (!schema) return { type: 'json' };
      // Non-strict schemas are guidance; strict ones must be enforced in full or refused.
      return {
        type: 'json_schema',
        schema: format.json_schema.strict ? schema : (relaxSchema(schema) as Record<string, unknown>),
      };
    }
  }
}

/** Text of a content field; image and other non-text parts are refused with the part's position. */
export function contentText(content: string | ContentPart[] | null | undefined, param: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  content.forEach((part, j) => {
    const where = `${param}[${j}]`;
    switch (part.type) {
      case 'text':
      case 'refusal': {
        const text = part.type === 'text' ? part.text : part['refusal'];
        if (typeof text !== 'string')
          throw new CorralError(
            'bad_request',
            `'${where}.${part.type}' is required`,
            `${where}.${part.type}`,
          );
        texts.push(text);
        break;
      }
      case 'image_url':
      case 'input_image':
        throw new CorralError('unsupported', 'this model does not support images', where);
      default:
        throw new CorralError(
          'unsupported',
          `content part type '${part.type}' is not supported`,
          `${where}.type`,
        );
    }
  });
  return texts.join('\n');
}

function parseArguments(
  raw: string | Record<string, unknown> | null | undefined,
  param: string,
): Record<string, unknown> {
  if (raw === undefined || raw === null || raw === '') return {};
  if (typeof raw === 'object') return raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new CorralError('bad_request', `'${param}' is not valid JSON`, param);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CorralError('bad_request', `'${param}' must be a JSON object`, param);
  }
  return parsed as Record<string, unknown>;
}

export function toChatMessages(messages: readonly ChatMessageIn[]): ChatMessage[] {
  // Tool results name their call by id; templates want the function's name.
  const toolNames = new Map<string, string>();
  return messages.map((m, i): ChatMessage => {
    const param = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: contentText(m.content, `${param}.content`) };
      case 'user':
        return { role: 'user', content: contentText(m.content, `${param}.content`) };
      case 'assistant': {
        const out: ChatMessage = { role: 'assistant', content: contentText(m.content, `${param}.content`) };
        const thinking = m.reasoning ?? m.reasoning_content;
        if (thinking) out.thinking = thinking;
        if (m.tool_calls?.length) {
          out.toolCalls = m.tool_calls.map((c, j): ToolCall => {
            if (c.id) toolNames.set(c.id, c.function.name);
            return {
              name: c.function.name,
              arguments: parseArguments(c.function.arguments, `${param}.tool_calls[${j}].function.arguments`),
              ...(c.id ? { id: c.id } : {}),
            };
          });
        }
        return out;
      }
      case 'tool': {
        const out: ChatMessage = { role: 'tool', content: contentText(m.content, `${param}.content`) };
        const name = toolNames.get(m.tool_call_id);
        if (name) out.toolName = name;
        return out;
      }
      case 'function':
        return { role: 'tool', content: m.content ?? '', toolName: m.name };
    }
  });
}
