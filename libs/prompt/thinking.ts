/**
 * Splitting reasoning from answers, and telling early in a stream whether output is a tool call.
 */
import type { ToolCall, ToolDef } from '../dispatch/protocol';
import { extractToolCalls } from './tool-calls';

export interface SplitThinking {
  thinking?: string;
  content: string;
}

export interface SplitThinkingOptions {
  /**
   * The prompt already opened the reasoning block (templates such as DeepSeek-R1's and Qwen3's
   * end with `<think>\n`), so the output starts inside it and only `</think>` appears.
   * Defaults to false.
   */
  openedInPrompt?: boolean;
}

/**
 * Separates a leading `<think>...</think>` block from the answer. Thinking is trimmed, and so is
 * the whitespace between `</think>` and the answer. An unterminated block (generation cut off
 * while reasoning) is all thinking.
 */
export function splitThinking(text: string, options: SplitThinkingOptions = {}): SplitThinking {
  const lead = text.match(/^\s*/)?.[0].length ?? 0;
  let start: number;
  if (text.startsWith('<think>', lead)) start = lead + '<think>'.length;
  else if (options.openedInPrompt) start = 0;
  else return { content: text };
  const close = text.indexOf('</think>', start);
  if (close < 0) return { thinking: text.slice(start).trim(), content: '' };
  const thinking = text.slice(start, close).trim();
  const content = text.slice(close + '</think>'.length).trimStart();
  return thinking ? { thinking, content } : { content };
}

const CALL_TAGS = ['<tool_call>', '[TOOL_CALLS]', '<|python_tag|>', '<function=', '```json', '```\n'];
/** A JSON object or array of objects whose first key is quoted: how bare calls start. */
const JSON_CALL_START = /^(\{\s*"|\[\s*\{\s*")/;
const JSON_CALL_PENDING = /^(\{\s*|\[\s*|\[\s*\{\s*)$/;

function classify(head: string): DetectorState {
  if (CALL_TAGS.some((t) => head.startsWith(t)) || JSON_CALL_START.test(head)) return 'tool_call';
  if (CALL_TAGS.some((t) => t.startsWith(head)) || JSON_CALL_PENDING.test(head)) return 'undecided';
  return 'content';
}

export type DetectorState = 'undecided' | 'content' | 'tool_call';

/**
 * Decides from the first non-space characters of a stream whether the model is writing a tool
 * call, so the API layer can stream plain content at once and buffer only what may be a call.
 *
 *     const d = new ToolCallDetector(tools);
 *     for await (const chunk of stream) send(d.push(chunk));   // '' while buffering
 *     const { content, toolCalls } = d.finish();
 */
export class ToolCallDetector {
  private buffer = '';
  private decided: DetectorState = 'undecided';

  constructor(private readonly tools: ToolDef[]) {
    if (tools.length === 0) this.decided = 'content';
  }

  get state(): DetectorState {
    return this.decided;
  }

  /** Feeds generated text; returns the content that may be sent to the client now. */
  push(chunk: string): string {
    if (this.decided === 'content') return chunk;
    this.buffer += chunk;
    if (this.decided === 'tool_call') return '';
    const head = this.buffer.trimStart();
    if (head === '') return '';
    this.decided = classify(head);
    if (this.decided !== 'content') return '';
    const out = this.buffer;
    this.buffer = '';
    return out;
  }

  /** Ends the stream: the buffered text parsed as tool calls, or released as content. */
  finish(): { content: string; toolCalls: ToolCall[] | null } {
    const text = this.buffer;
    this.buffer = '';
    if (this.decided !== 'tool_call') return { content: text, toolCalls: null };
    const found = extractToolCalls(text, this.tools);
    return found ? { content: found.content, toolCalls: found.calls } : { content: text, toolCalls: null };
  }
}
