/**
 * Decides, per request, how the prompt reaches the worker, with Ollama's semantics:
 * - a Go TEMPLATE (the request's `template`, else the model's) is rendered here → `{kind:'text'}`;
 * - without one, a model whose GGUF carries a Jinja chat template gets `{kind:'chat'}` and the
 *   worker renders it with node-llama-cpp;
 * - with neither, /api/generate uses Ollama's default template `{{ .Prompt }}` and /api/chat a
 *   plain transcript ({@link fallbackTranscript}).
 *
 * Not done here (yet): Ollama's context-window truncation (dropping the oldest non-system
 * messages when the rendered prompt exceeds num_ctx), images, and `<think>` stripping of history.
 */
import { CorralError } from '@corral/common';
import type { ChatMessage, Prompt, ToolDef } from '@corral/worker-protocol';
import type { ResolvedModel } from '@corral/registry';
import { OllamaTemplate } from './ollama-template';
import type { ThinkSetting } from './ollama-data';

export interface GeneratePromptRequest {
  prompt: string;
  system?: string;
  /** Overrides the model's TEMPLATE for this request. */
  template?: string;
  raw?: boolean;
  suffix?: string;
  /** Accepted for Ollama compatibility; images are not rendered into the prompt. */
  images?: unknown;
  think?: ThinkSetting;
  /** Ollama's deprecated conversational context. When set, the model's MESSAGEs are not added. */
  context?: number[];
  /** The detokenized `context`, when the caller has it: prepended to the rendered prompt as Ollama does. */
  contextText?: string;
}

export interface ChatPromptRequest {
  messages: ChatMessage[];
  tools?: ToolDef[];
  think?: ThinkSetting;
  /** Overrides the model's TEMPLATE for this request. */
  template?: string;
}

const DEFAULT_TEMPLATE = '{{ .Prompt }}';

function requestTemplate(src: string): OllamaTemplate {
  try {
    return OllamaTemplate.parse(src);
  } catch (e) {
    if (e instanceof CorralError) throw new CorralError('bad_request', e.message, 'template');
    throw e;
  }
}

// Model templates are few and reused on every request: keep their parse trees.
const parsedTemplates = new Map<string, OllamaTemplate>();
const MAX_CACHED = 64;

function modelTemplate(src: string): OllamaTemplate {
  let t = parsedTemplates.get(src);
  if (!t) {
    t = OllamaTemplate.parse(src);
    if (parsedTemplates.size >= MAX_CACHED)
      parsedTemplates.delete(parsedTemplates.keys().next().value as string);
    parsedTemplates.set(src, t);
  }
  return t;
}

function goTemplate(model: ResolvedModel, override: string | undefined): OllamaTemplate | null {
  if (override) return requestTemplate(override);
  return model.template ? modelTemplate(model.template) : null;
}

const thinkFlag = (think: ThinkSetting | undefined): boolean | undefined =>
  think === undefined ? undefined : think !== false;

export function buildGeneratePrompt(model: ResolvedModel, req: GeneratePromptRequest): Prompt {
  if (req.raw) return { kind: 'text', text: req.prompt, addBos: true };

  const tmpl = goTemplate(model, req.template);
  if (req.suffix && !tmpl?.supportsSuffix) {
    throw new CorralError('bad_request', `"${model.name}" does not support insert`, 'suffix');
  }

  const system = req.system || model.system;
  const messages: ChatMessage[] = [];
  if (system) messages.push({ role: 'system', content: system });
  if (!req.context) messages.push(...model.messages);
  messages.push({ role: 'user', content: req.prompt });

  if (!tmpl && model.gguf.chatTemplate) {
    const think = thinkFlag(req.think);
    return { kind: 'chat', messages, ...(think === undefined ? {} : { think }) };
  }

  const t = tmpl ?? modelTemplate(DEFAULT_TEMPLATE);
  const text = req.suffix
    ? t.execute({ prompt: req.prompt, suffix: req.suffix, think: req.think })
    : t.execute({ messages, think: req.think });
  return { kind: 'text', text: (req.context ? (req.contextText ?? '') : '') + text, addBos: true };
}

export function buildChatPrompt(model: ResolvedModel, req: ChatPromptRequest): Prompt {
  const messages: ChatMessage[] = [...model.messages, ...req.messages];
  if (req.messages[0]?.role !== 'system' && model.system)
    messages.unshift({ role: 'system', content: model.system });

  const tmpl = goTemplate(model, req.template);
  if (tmpl)
    return {
      kind: 'text',
      text: tmpl.execute({ messages, tools: req.tools, think: req.think }),
      addBos: true,
    };

  if (model.gguf.chatTemplate) {
    if (messages.length === 0) throw new CorralError('bad_request', 'messages must not be empty', 'messages');
    const think = thinkFlag(req.think);
    return {
      kind: 'chat',
      messages,
      ...(req.tools?.length ? { tools: req.tools } : {}),
      ...(think === undefined ? {} : { think }),
    };
  }
  return { kind: 'text', text: fallbackTranscript(messages, req.tools), addBos: true };
}

const ROLE_LABEL: Record<ChatMessage['role'], string> = {
  system: 'System',
  user: 'User',
  assistant: 'Assistant',
  tool: 'Tool',
};

/**
 * The prompt for a model with no template of any kind (a base model): a plain transcript
 * a base model can continue, ending in an open assistant turn:
 *
 *     System: <system text>
 *     Tools: <one JSON definition per line>      (only when tools are given)
 *
 *     User: <text>
 *
 *     Assistant: <text, then one {"name","arguments"} JSON line per tool call>
 *
 *     Tool (<name>): <result>
 *
 *     Assistant:
 *
 * Ollama would instead concatenate the raw message texts (its default `{{ .Prompt }}` template),
 * which gives a base model nothing to tell the speakers apart.
 */
export function fallbackTranscript(messages: ChatMessage[], tools?: ToolDef[]): string {
  const blocks: string[] = [];
  const toolLines = (tools ?? []).map((t) =>
    JSON.stringify({ name: t.name, description: t.description, parameters: t.parameters }),
  );
  let toolsPlaced = toolLines.length === 0;
  for (const m of messages) {
    let body = m.content;
    if (m.role === 'assistant' && m.toolCalls?.length) {
      const calls = m.toolCalls.map((c) => JSON.stringify({ name: c.name, arguments: c.arguments }));
      body = [body, ...calls].filter(Boolean).join('\n');
    }
    const label = m.role === 'tool' && m.toolName ? `Tool (${m.toolName})` : ROLE_LABEL[m.role];
    let block = `${label}: ${body}`;
    if (m.role === 'system' && !toolsPlaced) {
      block += `\nTools:\n${toolLines.join('\n')}`;
      toolsPlaced = true;
    }
    blocks.push(block);
  }
  if (!toolsPlaced) blocks.unshift(`Tools:\n${toolLines.join('\n')}`);
  blocks.push('Assistant:');
  return blocks.join('\n\n');
}
