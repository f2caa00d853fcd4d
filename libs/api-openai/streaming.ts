/**
 * OpenAI's stream framing: SSE events ending with `data: [DONE]`, and the in-band error for a run
 * that fails after streaming began (the status line is gone by then; OpenAI's SDKs raise an
 * APIError on a `data: {"error": ...}` event). Waiting for the first event, cancellation and the
 * rest of the run's lifecycle are serving's (RunService.start, streamReply).
 */
import { Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { describeError, errorBody } from '@corral/common';
import { streamReply } from '@corral/serving';

const logger = new Logger('OpenAI');

/** The OpenAI error object for an in-band stream error; 500s never carry internals. */
export function streamError(e: unknown, requestId: string): unknown {
  const d = describeError(e);
  const message =
    d.status >= 500 && d.code === 'internal' ? `internal error (request id ${requestId})` : d.message;
  return errorBody('openai', d.status, message, d.code, d.param);
}

/** Writes `chunks` as SSE events ending with `[DONE]`, or with an error event if the run fails. */
export function sendSse(
  reply: FastifyReply,
  chunks: AsyncIterable<unknown>,
  meter?: { fail(e: unknown): void },
): Promise<void> {
  const id = String(reply.request.id);
  return streamReply(
    reply,
    chunks,
    {
      contentType: 'text/event-stream; charset=utf-8',
      write: (w, chunk) => w.sse(chunk),
      end: (w) => w.sse('[DONE]'),
      error: (w, e) => {
        if (describeError(e).status >= 500)
          logger.error(`stream ${id} failed: ${(e as Error)?.message}`, (e as Error)?.stack);
        w.sse(streamError(e, id));
      },
    },
    meter,
  );
}
