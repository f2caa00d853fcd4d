/**
 * Running a generation for an OpenAI route: cancellation when the client leaves, HTTP errors for
 * failures before the first event, and in-band SSE errors after streaming began (the status line
 * is gone by then; OpenAI's SDKs raise an APIError on a `data: {"error": ...}` event).
 */
import { Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { describeError, errorBody } from '@corral/common';
import type { DoneResult, GenerationEvent } from '@corral/dispatch';
import { StreamWriter } from '@corral/serving';

const logger = new Logger('OpenAI');

/** An AbortSignal that fires when the client disconnects before the reply is complete. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const raw = reply.raw;
  raw.on('close', () => {
    if (!raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

/**
 * Waits for the first event, so that a run that cannot start (model fails to load, prompt too
 * long) is still an ordinary HTTP error. The returned iterable always closes the generator, which
 * is what frees the worker's sequence.
 */
export async function primed<T>(gen: AsyncGenerator<T>): Promise<AsyncIterable<T>> {
  let first: IteratorResult<T>;
  try {
    first = await gen.next();
  } catch (e) {
    await gen.return(undefined as never).catch(() => undefined);
    throw e;
  }
  return (async function* () {
    try {
      if (first.done) return;
      yield first.value;
      yield* gen;
    } finally {
      await gen.return(undefined as never);
    }
  })();
}

/** All text and the done event of a run, for non-streamed replies. */
export async function collect(
  events: AsyncIterable<GenerationEvent>,
): Promise<{ text: string; done: DoneResult }> {
  let text = '';
  let done: DoneResult | undefined;
  for await (const ev of events) {
    if (ev.type === 'chunk') text += ev.text;
    else done = ev;
  }
  if (!done) throw new Error('generation ended without a result');
  return { text, done };
}

/** The OpenAI error object for an in-band stream error; 500s never carry internals. */
export function streamError(e: unknown, requestId: string): unknown {
  const d = describeError(e);
  const message =
    d.status >= 500 && d.code === 'internal' ? `internal error (request id ${requestId})` : d.message;
  return errorBody('openai', d.status, message, d.code, d.param);
}

/** Writes `chunks` as SSE events ending with `[DONE]`, or with an error event if the run fails. */
export async function sendSse(
  reply: FastifyReply,
  chunks: AsyncIterable<unknown>,
  meter?: { fail(e: unknown): void },
): Promise<void> {
  const writer = new StreamWriter(reply, 'text/event-stream; charset=utf-8');
  try {
    for await (const chunk of chunks) {
      if (writer.isClosed) break;
      writer.sse(chunk);
    }
    writer.sse('[DONE]');
  } catch (e) {
    meter?.fail(e);
    const d = describeError(e);
    if (d.status >= 500)
      logger.error(`stream ${reply.request.id} failed: ${(e as Error)?.message}`, (e as Error)?.stack);
    writer.sse(streamError(e, String(reply.request.id)));
  } finally {
    writer.end();
  }
}

export async function sendJson(reply: FastifyReply, body: unknown): Promise<void> {
  if (reply.raw.destroyed) return;
  await reply.status(200).header('content-type', 'application/json; charset=utf-8').send(body);
}
