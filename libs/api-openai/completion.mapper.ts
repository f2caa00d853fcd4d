/**
 * POST /v1/completions: request → run input, and run → `text_completion` objects (one for a
 * non-streamed reply, one per piece for a stream).
 */
import { CorralError } from '@corral/common';
import type { DoneResult, GenerationEvent } from '@corral/worker-protocol';
import type { OllamaOptions } from '@corral/dispatch';
import type { CompletionRequest } from './dto/completion.dto';
import { SYSTEM_FINGERPRINT } from './ids';
import { rejectUnsupported, toOllamaOptions } from './sampling.mapper';
import { finishReason, toUsage, type FinishReason, type Usage } from './usage.mapper';

export interface CompletionPlan {
  model: string;
  prompt: string;
  options: OllamaOptions;
  stream: boolean;
  includeUsage: boolean;
  /** Text after the insertion point, for models that can fill in the middle. */
  suffix?: string;
}

export function planCompletion(req: CompletionRequest): CompletionPlan {
  rejectUnsupported(req);
  if (req.logprobs !== undefined && req.logprobs !== null) {
    throw new CorralError('unsupported', `'logprobs' is not supported`, 'logprobs');
  }
  if (req.echo) throw new CorralError('unsupported', `'echo' is not supported`, 'echo');
  if (req.best_of !== undefined && req.best_of !== null && req.best_of !== 1) {
    throw new CorralError(
      'unsupported',
      `'best_of' must be 1: only one choice per request is supported`,
      'best_of',
    );
  }
  return {
    model: req.model,
    prompt: promptText(req.prompt),
    options: toOllamaOptions(req),
    stream: req.stream === true,
    includeUsage: req.stream === true && req.stream_options?.include_usage === true,
    ...(req.suffix ? { suffix: req.suffix } : {}),
  };
}

function promptText(prompt: CompletionRequest['prompt']): string {
  if (typeof prompt === 'string') return prompt;
  if (prompt.length !== 1) {
    throw new CorralError(
      'unsupported',
      `'prompt' must be a string or an array of one string: batches are not supported`,
      'prompt',
    );
  }
  const [only] = prompt;
  if (typeof only !== 'string') {
    throw new CorralError('unsupported', `'prompt' as token ids is not supported: send text`, 'prompt');
  }
  return only;
}

type CompletionChoice = { index: 0; text: string; logprobs: null; finish_reason: FinishReason | null };

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  system_fingerprint: string;
  choices: CompletionChoice[];
  usage?: Usage | null;
}

interface Meta {
  id: string;
  created: number;
  model: string;
}

export function textCompletion(meta: Meta, text: string, done: DoneResult): TextCompletion {
  return {
    ...envelope(meta),
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason(done.doneReason, false) }],
    usage: toUsage(done),
  };
}

function envelope(meta: Meta) {
  return {
    id: meta.id,
    object: 'text_completion' as const,
    created: meta.created,
    model: meta.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/** Stream chunks: text pieces, a final empty piece with finish_reason, then usage when asked for. */
export async function* completionChunks(
  events: AsyncIterable<GenerationEvent>,
  ctx: Meta & { includeUsage: boolean },
): AsyncGenerator<TextCompletion> {
  const piece = (text: string, finish: FinishReason | null = null): TextCompletion => ({
    ...envelope(ctx),
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
    ...(ctx.includeUsage ? { usage: null } : {}),
  });
  let done: DoneResult | undefined;
  for await (const ev of events) {
    if (ev.type === 'chunk') {
      if (ev.text) yield piece(ev.text);
    } else {
      done = ev;
    }
  }
  if (!done) throw new CorralError('internal', 'generation ended without a result');
  yield piece('', finishReason(done.doneReason, false));
  if (ctx.includeUsage) yield { ...envelope(ctx), choices: [], usage: toUsage(done) };
}
