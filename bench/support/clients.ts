/**
 * One streamed generation against each contender, reduced to the same measurements: time to the
 * first token, the gaps between tokens as the client saw them, and the token count the server
 * reported.
 */
import type { CorralServer } from './corral';
import { streamPost, type StreamEvent } from './http';
import type { LlamaServer } from './llama-server';

export interface StreamTiming {
  /** Generated tokens, as the server counted them. */
  tokens: number;
  /** ms from sending the request to the first token's arrival. */
  ttftMs: number;
  /** ms from the first to the last token's arrival. */
  decodeMs: number;
  /** ms between successive token events. */
  gapsMs: number[];
  /** Prompt tokens evaluated (not taken from a cache) and the server's time for them, when reported. */
  promptTokens?: number;
  promptMs?: number;
  totalMs: number;
}

/** Client-side decode rate: tokens after the first over the time they took to arrive. */
export function decodeRate(t: StreamTiming): number {
  return t.tokens > 1 && t.decodeMs > 0 ? (t.tokens - 1) / (t.decodeMs / 1000) : Number.NaN;
}

function timing(content: StreamEvent[], tokens: number, totalMs: number): StreamTiming {
  const first = content[0]?.at ?? Number.NaN;
  const last = content[content.length - 1]?.at ?? Number.NaN;
  const gapsMs = content.slice(1).map((e, i) => e.at - (content[i]?.at ?? e.at));
  return { tokens, ttftMs: first, decodeMs: last - first, gapsMs, totalMs };
}

export interface GenerateOptions {
  prompt: string;
  maxTokens: number;
  /** Extra Ollama options (merged over temperature 0). */
  options?: Record<string, unknown>;
}

/** Ollama /api/generate, streamed NDJSON. */
export async function corralGenerate(
  s: CorralServer,
  model: string,
  o: GenerateOptions,
): Promise<StreamTiming> {
  const r = await streamPost(
    `${s.url}/api/generate`,
    {
      model,
      prompt: o.prompt,
      stream: true,
      options: { temperature: 0, num_predict: o.maxTokens, ...o.options },
    },
    s.auth,
  );
  if (r.status !== 200) throw new Error(`/api/generate ${r.status}: ${JSON.stringify(r.events[0]?.data)}`);
  const content = r.events.filter((e) => e.data.done === false && e.data.response);
  const done = r.events.find((e) => e.data.done === true)?.data;
  if (!done) throw new Error(`/api/generate ended without done: ${JSON.stringify(r.events.at(-1)?.data)}`);
  const t = timing(content, Number(done.eval_count), r.totalMs);
  t.promptTokens = Number(done.prompt_eval_count);
  t.promptMs = Number(done.prompt_eval_duration) / 1e6;
  return t;
}

/** OpenAI /v1/chat/completions, streamed SSE with usage. */
export async function corralChat(s: CorralServer, model: string, o: GenerateOptions): Promise<StreamTiming> {
  const r = await streamPost(
    `${s.url}/v1/chat/completions`,
    {
      model,
      messages: [{ role: 'user', content: o.prompt }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0,
      max_tokens: o.maxTokens,
    },
    s.auth,
  );
  if (r.status !== 200)
    throw new Error(`/v1/chat/completions ${r.status}: ${JSON.stringify(r.events[0]?.data)}`);
  type Choice = { delta?: { content?: string | null } };
  const content = r.events.filter((e) => {
    const choices = e.data.choices as Choice[] | undefined;
    return !!choices?.[0]?.delta?.content;
  });
  const usage = r.events.find((e) => e.data.usage)?.data.usage as { completion_tokens: number } | undefined;
  if (!usage) throw new Error('chat stream ended without usage');
  return timing(content, usage.completion_tokens, r.totalMs);
}

/** llama-server's native /completion, streamed, greedy, with the same token budget. */
export async function llamaCompletion(ls: LlamaServer, o: GenerateOptions): Promise<StreamTiming> {
  const r = await streamPost(`${ls.url}/completion`, {
    prompt: o.prompt,
    n_predict: o.maxTokens,
    temperature: 0,
    repeat_penalty: 1,
    stream: true,
    cache_prompt: true,
    ...o.options,
  });
  if (r.status !== 200)
    throw new Error(`llama-server /completion ${r.status}: ${JSON.stringify(r.events[0]?.data)}`);
  const content = r.events.filter((e) => e.data.stop === false && e.data.content);
  const last = r.events.find((e) => e.data.stop === true)?.data;
  if (!last) throw new Error('llama-server stream ended without stop');
  const t = timing(content, Number(last.tokens_predicted), r.totalMs);
  const timings = last.timings as { prompt_n?: number; prompt_ms?: number } | undefined;
  t.promptTokens = timings?.prompt_n;
  t.promptMs = timings?.prompt_ms;
  return t;
}
