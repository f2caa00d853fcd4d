/**
 * Recognises tool calls in model output, in the shapes models are trained to emit:
 * - a bare JSON object `{"name": ..., "arguments"|"parameters": {...}}`, or an array of them,
 *   optionally in a ```json fence;
 * - `{"function": {"name", "arguments"}}` / `{"type": "function", "function": {...}}`;
 * - Qwen / Hermes: `<tool_call>{...}</tool_call>` (one or more, closing tag optional at the end);
 * - Mistral: `[TOOL_CALLS] [{...}]`, and the newer `[TOOL_CALLS]name[ARGS]{...}`;
 * - Llama 3.1: `<|python_tag|>{...}` (several separated by `;`);
 * - Llama 3.2 style `<function=name>{...}</function>`.
 * Only names among the request's tools count; arguments given as a JSON string are decoded.
 */
import type { ToolCall, ToolDef } from '@corral/worker-protocol';
import { parseJsonAt } from './json-scan';

export interface ExtractedToolCalls {
  calls: ToolCall[];
  /** Text outside the tool-call markup (e.g. a sentence before `<tool_call>`), trimmed. */
  content: string;
}

/** The tool calls in `text`, or null when it is plain content. */
export function parseToolCalls(text: string, tools: ToolDef[]): ToolCall[] | null {
  return extractToolCalls(text, tools)?.calls ?? null;
}

export function extractToolCalls(text: string, tools: ToolDef[]): ExtractedToolCalls | null {
  if (tools.length === 0) return null;
  const names = new Set(tools.map((t) => t.name));
  const t = text.trim();
  return (
    tagged(t, names) ?? mistral(t, names) ?? pythonTag(t, names) ?? functionTags(t, names) ?? bare(t, names)
  );
}

function toCall(v: unknown, names: ReadonlySet<string>): ToolCall | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  let o = v as Record<string, unknown>;
  if (typeof o.function === 'object' && o.function !== null && !Array.isArray(o.function)) {
    o = { ...(o.function as Record<string, unknown>), id: o.id };
  }
  const name = o.name;
  if (typeof name !== 'string' || !names.has(name)) return null;
  let args: unknown = o.arguments ?? o.parameters ?? {};
  if (typeof args === 'string') {
    try {
      args = args.trim() === '' ? {} : (JSON.parse(args) as unknown);
    } catch {
      return null;
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return null;
  const call: ToolCall = { name, arguments: args as Record<string, unknown> };
  if (typeof o.id === 'string' && o.id) call.id = o.id;
  return call;
}

/** Every element must be a call: one stray object means this JSON is content, not calls. */
function toCalls(v: unknown, names: ReadonlySet<string>): ToolCall[] | null {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return null;
  const calls = list.map((x) => toCall(x, names));
  return calls.every((c): c is ToolCall => c !== null) ? calls : null;
}

function bare(t: string, names: ReadonlySet<string>): ExtractedToolCalls | null {
  const fenced = /^```(?:json)?\s*\n?([\s\S]*?)\n?```$/.exec(t);
  const body = (fenced?.[1] ?? t).trim();
  const parsed = parseJsonAt(body, 0);
  if (!parsed || body.slice(parsed.end).trim() !== '') return null;
  const calls = toCalls(parsed.value, names);
  return calls ? { calls, content: '' } : null;
}

function tagged(t: string, names: ReadonlySet<string>): ExtractedToolCalls | null {
  const open = '<tool_call>';
  const first = t.indexOf(open);
  if (first < 0) return null;
  const calls: ToolCall[] = [];
  let rest = t.slice(0, first);
  let i = first;
  while (i >= 0 && i < t.length) {
    let j = i + open.length;
    while (/\s/.test(t[j] ?? '')) j++;
    const parsed = parseJsonAt(t, j);
    if (!parsed) return null;
    const got = toCalls(parsed.value, names);
    if (got) calls.push(...got);
    let k = parsed.end;
    while (/\s/.test(t[k] ?? '')) k++;
    if (t.startsWith('</tool_call>', k)) k += '</tool_call>'.length;
    const next = t.indexOf(open, k);
    rest += t.slice(k, next < 0 ? t.length : next);
    i = next;
  }
  return calls.length ? { calls, content: rest.trim() } : null;
}

function mistral(t: string, names: ReadonlySet<string>): ExtractedToolCalls | null {
  const tag = '[TOOL_CALLS]';
  if (!t.startsWith(tag)) return null;
  const body = t.slice(tag.length).trimStart();
  if (body.startsWith('[') || body.startsWith('{')) {
    const parsed = parseJsonAt(body, 0);
    const calls = parsed ? toCalls(parsed.value, names) : null;
    return calls ? { calls, content: body.slice(parsed?.end ?? 0).trim() } : null;
  }
  // Newer Mistral tokenizers: [TOOL_CALLS]name[ARGS]{...}, repeated.
  const calls: ToolCall[] = [];
  let rest = t;
  while (rest.startsWith(tag)) {
    const m = /^\[TOOL_CALLS\]\s*([\w.-]+)\s*(?:\[CALL_ID\]\s*(\w+)\s*)?\[ARGS\]\s*/.exec(rest);
    if (!m) return null;
    const parsed = parseJsonAt(rest, m[0].length);
    if (!parsed) return null;
    const call = toCall({ name: m[1], arguments: parsed.value, id: m[2] }, names);
    if (!call) return null;
    calls.push(call);
    rest = rest.slice(parsed.end).trimStart();
  }
  return calls.length ? { calls, content: rest.trim() } : null;
}

function pythonTag(t: string, names: ReadonlySet<string>): ExtractedToolCalls | null {
  const tag = '<|python_tag|>';
  if (!t.startsWith(tag)) return null;
  const body = t
    .slice(tag.length)
    .replace(/<\|eom_id\|>\s*$/, '')
    .trim();
  const calls: ToolCall[] = [];
  let i = 0;
  while (i < body.length) {
    const parsed = parseJsonAt(body, i);
    const got = parsed ? toCalls(parsed.value, names) : null;
    if (!parsed || !got) return null;
    calls.push(...got);
    i = parsed.end;
    while (/[\s;]/.test(body[i] ?? '')) i++;
  }
  return calls.length ? { calls, content: '' } : null;
}

function functionTags(t: string, names: ReadonlySet<string>): ExtractedToolCalls | null {
  if (!t.startsWith('<function=')) return null;
  const calls: ToolCall[] = [];
  let rest = t;
  for (let m = /^<function=([\w.-]+)>\s*/.exec(rest); m; m = /^<function=([\w.-]+)>\s*/.exec(rest)) {
    const parsed = parseJsonAt(rest, m[0].length);
    if (!parsed) return null;
    const call = toCall({ name: m[1], arguments: parsed.value }, names);
    if (!call) return null;
    calls.push(call);
    rest = rest
      .slice(parsed.end)
      .replace(/^\s*<\/function>/, '')
      .trimStart();
  }
  return calls.length ? { calls, content: rest.trim() } : null;
}

/**
 * How a call starts, in every shape above. A bare JSON call is an object (or array of objects)
 * whose first key is quoted: `{x} is a placeholder` and `[1] See the docs` are content.
 */
const CALL_TAGS = ['<tool_call>', '[TOOL_CALLS]', '<|python_tag|>', '<function=', '```json', '```\n'];
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
 * call, so an API layer can stream plain content at once and buffer only what may be a call.
 * Both dialects use it (Ollama's /api/chat and OpenAI's auto tool choice).
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
