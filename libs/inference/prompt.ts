import type {
  ChatHistoryItem,
  ChatModelFunctions,
  ChatModelResponse,
  ChatWrapper,
  LlamaModel,
  LlamaText,
  Token,
} from 'node-llama-cpp';
import { WorkerJobError } from './errors';
import type { ChatMessage, Prompt, ToolDef } from '@corral/worker-protocol';

export interface RenderedPrompt {
  tokens: Token[];
  /** Single tokens that end the turn besides the model's EOG tokens (from the chat template). */
  stopTokens: Set<Token>;
  /** Text that ends the turn besides the caller's stop strings (from the chat template). */
  stopStrings: string[];
}

/**
 * Turns a protocol prompt into tokens. `chatWrapper` is the model's template wrapper, or null when the
 * GGUF has no `tokenizer.chat_template`.
 */
export function renderPrompt(
  prompt: Prompt,
  model: LlamaModel,
  chatWrapper: ChatWrapper | null,
): RenderedPrompt {
  if (prompt.kind === 'text') {
    // Special-token text in a gateway-rendered template (e.g. `<|im_start|>`) must become the special
    // token itself, hence `true`.
    const tokens = model.tokenize(prompt.text, true);
    const bos = model.tokens.bos;
    if (prompt.addBos && model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos)
      tokens.unshift(bos);
    return { tokens, stopTokens: new Set(), stopStrings: [] };
  }
  if (chatWrapper === null) return renderPlainChat(prompt.messages, model);

  const { contextText, stopGenerationTriggers } = chatWrapper.generateContextState({
    chatHistory: toChatHistory(prompt.messages),
    availableFunctions: toAvailableFunctions(prompt.tools),
  });
  const stopTokens = new Set<Token>();
  const stopStrings: string[] = [];
  for (const trigger of stopGenerationTriggers) classifyTrigger(trigger, model, stopTokens, stopStrings);
  const tokens = tokenizeRendered(contextText, model);
  const bos = model.tokens.bos;
  // Templates rarely write the BOS themselves; llama.cpp adds it when the GGUF asks for it, and so do we.
  if (model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) tokens.unshift(bos);
  return { tokens, stopTokens, stopStrings };
}

/**
 * node-llama-cpp tokenizes a rendered chat piece by piece (template text with special tokens parsed,
 * message content without), which keeps a user from injecting control tokens but, with SentencePiece
 * vocabularies, adds a word-boundary space at every piece (stories260K renders "stories. \nUser:").
 * llama.cpp's server tokenizes the rendered string as a whole, so we do the same whenever no message
 * content contains special-token text, and keep the piecewise form as the safe fallback when one does.
 */
function tokenizeRendered(text: LlamaText, model: LlamaModel): Token[] {
  const injects = text.values.some((v) => {
    if (typeof v !== 'string') return false;
    const parsed = model.tokenize(v, true);
    const plain = model.tokenize(v, false);
    return parsed.length !== plain.length || parsed.some((t, i) => t !== plain[i]);
  });
  if (injects) return text.tokenize(model.tokenizer);
  const out: Token[] = [];
  let run = '';
  const flush = (): void => {
    // llama.cpp gives the text after a special token the same word-boundary prefix as text at the start.
    if (run.length > 0) out.push(...model.tokenize(run, true));
    run = '';
  };
  for (const v of text.values) {
    if (typeof v === 'string') run += v;
    else if (v.toJSON().type === 'specialToken') {
      flush();
      out.push(...v.tokenize(model.tokenizer));
    } else run += v.value;
  }
  flush();
  return out;
}

/**
 * Models without a chat template (base models such as stories260K) still get `chat` requests from
 * OpenAI clients. No format is "right" for them; this neutral transcript is what such models most often
 * saw in pre-training, and "\nUser:" stops the model from writing the next user turn itself.
 */
function renderPlainChat(messages: readonly ChatMessage[], model: LlamaModel): RenderedPrompt {
  const lines = messages.map((m) => {
    switch (m.role) {
      case 'system':
        return `System: ${m.content}`;
      case 'user':
        return `User: ${m.content}`;
      case 'assistant':
        return `Assistant: ${m.content}`;
      case 'tool':
        return `Tool${m.toolName ? ` (${m.toolName})` : ''}: ${m.content}`;
    }
  });
  const last = messages[messages.length - 1];
  // A trailing assistant message is a prefill: the model continues it instead of starting a new turn.
  const text = last?.role === 'assistant' ? lines.join('\n') : `${lines.join('\n')}\nAssistant:`;
  const tokens = model.tokenize(text, false);
  const bos = model.tokens.bos;
  if (model.tokens.shouldPrependBosToken && bos !== null) tokens.unshift(bos);
  return { tokens, stopTokens: new Set(), stopStrings: ['\nUser:'] };
}

/**
 * node-llama-cpp keeps a tool call and its result in one model-response item, so a `tool` message is
 * folded into the matching pending call of the preceding assistant turn. The history ends with an
 * empty model response (the slot to generate into) unless the caller prefilled an assistant message.
 */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        history.push({ type: 'system', text: m.content });
        break;
      case 'user':
        history.push({ type: 'user', text: m.content });
        break;
      case 'assistant': {
        const response: ChatModelResponse['response'] = [];
        if (m.thinking)
          response.push({ type: 'segment', segmentType: 'thought', text: m.thinking, ended: true });
        if (m.content) response.push(m.content);
        for (const call of m.toolCalls ?? []) {
          response.push({ type: 'functionCall', name: call.name, params: call.arguments, result: undefined });
        }
        history.push({ type: 'model', response });
        break;
      }
      case 'tool':
        attachToolResult(history, m);
        break;
    }
  }
  const last = history[history.length - 1];
  const lastMsg = messages[messages.length - 1];
  if (last?.type !== 'model' || lastMsg?.role === 'tool') history.push({ type: 'model', response: [] });
  return history;
}

function attachToolResult(history: ChatHistoryItem[], m: ChatMessage): void {
  const result = parseMaybeJson(m.content);
  for (let i = history.length - 1; i >= 0; i--) {
    const item = history[i];
    if (item?.type !== 'model') continue;
    const call = item.response.find(
      (r) =>
        typeof r === 'object' &&
        r.type === 'functionCall' &&
        r.result === undefined &&
        (m.toolName === undefined || r.name === m.toolName),
    );
    if (call && typeof call === 'object' && call.type === 'functionCall') {
      call.result = result;
      return;
    }
    break;
  }
  throw new WorkerJobError(
    'bad_request',
    `tool message${m.toolName ? ` for "${m.toolName}"` : ''} does not answer a tool call of the preceding assistant message`,
  );
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toAvailableFunctions(tools: readonly ToolDef[] | undefined): ChatModelFunctions | undefined {
  if (!tools || tools.length === 0) return undefined;
  const fns: Record<string, ChatModelFunctions[string]> = {};
  for (const t of tools) {
    // Tool schemas come from the API caller; node-llama-cpp only reads them to document the function
    // in the prompt, so an unusual schema degrades the description rather than failing the request.
    fns[t.name] = {
      description: t.description,
      params: t.parameters as ChatModelFunctions[string]['params'],
    };
  }
  return fns;
}

function classifyTrigger(trigger: LlamaText, model: LlamaModel, tokens: Set<Token>, strings: string[]): void {
  const plain = trigger.values.every((v) => typeof v === 'string');
  if (plain) {
    const text = trigger.values.join('');
    if (text.length > 0) strings.push(text);
    return;
  }
  const toks = trigger.tokenize(model.tokenizer);
  const only = toks[0];
  if (toks.length === 1 && only !== undefined) tokens.add(only);
  // A mixed special/plain trigger cannot appear in detokenized text; the model's EOG covers it.
}
