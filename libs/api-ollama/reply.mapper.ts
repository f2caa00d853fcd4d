/**
 * A run's text → Ollama's reply: the NDJSON pieces of a stream (`response` for /api/generate,
 * `message` for /api/chat, with `thinking` split out when asked) and the final object with timings
 * in nanoseconds, which for a non-streamed reply also carries the whole text.
 */
import type { DoneResult, GenerationEvent, ToolDef } from '@corral/worker-protocol';
import { CorralError, describeError } from '@corral/common';
import { ThinkingSplitter, ToolCallDetector } from '@corral/prompt';
import { nsSince, type StreamFormat } from '@corral/serving';
import { toWireToolCalls } from './chat.mapper';

export type Kind = 'generate' | 'chat';

export interface ReplyContext {
  kind: Kind;
  /** The resolved model name. */
  model: string;
  streaming: boolean;
  /** `think` was asked for: split `<think>…</think>` into `thinking`. */
  think: boolean;
  /** The request's tools, when the output may be a call (chat without `format`). */
  tools?: ToolDef[];
  /** process.hrtime.bigint() at the request's start. */
  start: bigint;
}

export type Piece = Record<string, unknown>;

/** Ollama's stream: one JSON object a line; a failure after the first piece is `{"error": "..."}`. */
export const NDJSON: StreamFormat<Piece> = {
  contentType: 'application/x-ndjson',
  write: (w, piece) => w.json(piece),
  error: (w, e) => w.json({ error: describeError(e).message }),
  readAfterClose: true,
};

function timings(done: DoneResult, start: bigint) {
  return {
    done_reason: done.doneReason === 'cancelled' ? 'stop' : done.doneReason,
    total_duration: nsSince(start),
    load_duration: done.loadDurationNs,
    prompt_eval_count: done.promptTokens,
    prompt_eval_duration: done.promptEvalDurationNs,
    eval_count: done.completionTokens,
    eval_duration: done.evalDurationNs,
  };
}

export class OllamaReply {
  private readonly think?: ThinkingSplitter;
  private readonly detector?: ToolCallDetector;
  private full = '';
  private fullThinking = '';

  constructor(private readonly ctx: ReplyContext) {
    if (ctx.think) this.think = new ThinkingSplitter();
    if (ctx.tools) this.detector = new ToolCallDetector(ctx.tools);
  }

  /** Generated text → the pieces to stream now (none while it may be a tool call). */
  text(text: string): Piece[] {
    return this.emit(this.detector ? this.detector.push(text) : text);
  }

  private emit(text: string): Piece[] {
    let thinking = '';
    if (this.think) ({ thinking, content: text } = this.think.push(text));
    this.full += text;
    this.fullThinking += thinking;
    return this.ctx.streaming && (text || thinking) ? [this.piece(text, thinking)] : [];
  }

  private piece(text: string, thinking: string): Piece {
    const { kind, model } = this.ctx;
    const created_at = new Date().toISOString();
    if (kind === 'generate')
      return { model, created_at, response: text, ...(thinking ? { thinking } : {}), done: false };
    return {
      model,
      created_at,
      message: { role: 'assistant', content: text, ...(thinking ? { thinking } : {}) },
      done: false,
    };
  }

  /**
   * The run ended: what was held back (a tool call, the end of a think tag), the final object,
   * and the output observers record.
   */
  finish(done: DoneResult): { pieces: Piece[]; last: Piece; output: Record<string, unknown> } {
    const pieces: Piece[] = [];
    const held = this.detector?.finish();
    // A call's surrounding text is dropped, as Ollama does; text that was no call is content.
    const calls = held?.toolCalls ?? null;
    if (held && !calls && held.content) pieces.push(...this.emit(held.content));
    if (this.think) {
      const rest = this.think.flush();
      this.full += rest.content;
      this.fullThinking += rest.thinking;
      if (this.ctx.streaming && (rest.content || rest.thinking))
        pieces.push(this.piece(rest.content, rest.thinking));
    }
    const { kind, model, streaming } = this.ctx;
    const { full, fullThinking } = this;
    const final = timings(done, this.ctx.start);
    const created_at = new Date().toISOString();
    const wireCalls = calls ? toWireToolCalls(calls) : undefined;
    let last: Piece;
    if (kind === 'generate') {
      last = {
        model,
        created_at,
        response: streaming ? '' : full,
        ...(!streaming && fullThinking ? { thinking: fullThinking } : {}),
        done: true,
        ...(done.context ? { context: done.context } : {}),
        ...final,
      };
    } else {
      const message: Record<string, unknown> = {
        role: 'assistant',
        content: streaming || wireCalls ? '' : full,
      };
      if (!streaming && fullThinking) message.thinking = fullThinking;
      if (wireCalls) message.tool_calls = wireCalls;
      last = { model, created_at, message, done: true, ...final };
    }
    const output =
      kind === 'generate'
        ? { response: full, ...(fullThinking ? { thinking: fullThinking } : {}) }
        : {
            content: full,
            ...(fullThinking ? { thinking: fullThinking } : {}),
            ...(wireCalls ? { tool_calls: wireCalls } : {}),
          };
    return { pieces, last, output };
  }
}

/** Events → everything the reply says, in order; the done event's object last. */
export async function* ollamaPieces(
  events: AsyncIterable<GenerationEvent>,
  reply: OllamaReply,
  meter: { setOutput(output: unknown): void },
): AsyncGenerator<Piece> {
  let done: DoneResult | undefined;
  for await (const ev of events) {
    if (ev.type === 'chunk') yield* reply.text(ev.text);
    else done = ev;
  }
  if (!done) throw new CorralError('internal', 'generation ended without a result');
  const end = reply.finish(done);
  meter.setOutput(end.output);
  yield* end.pieces;
  yield end.last;
}
