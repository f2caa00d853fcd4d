/**
 * The HTTP end of a run, shared by both dialects: the exchange metering sees, the first-event rule
 * and the streamed reply. A dialect only maps events to its chunks (NDJSON pieces or SSE chunks)
 * and to its non-streamed body; `RunService.start` is where a run begins.
 */
import type { FastifyReply } from 'fastify';
import type { DoneResult, GenerationEvent } from '@corral/worker-protocol';
import type { Exchange } from './metering';
import { StreamWriter, abortOnDisconnect } from './stream-writer';

/** The request as metering sees it; its signal is the request's one disconnect signal. */
export function exchangeOf(reply: FastifyReply): Exchange {
  const req = reply.request;
  const signal = abortOnDisconnect(reply).signal;
  return {
    requestId: String(req.id),
    route: req.url.split('?')[0] ?? req.url,
    signal,
    statusSent: () => reply.raw.headersSent,
    setHeaders: (headers) => {
      for (const [k, v] of Object.entries(headers)) reply.header(k, v);
    },
  };
}

/**
 * Waits for the first event, so that a run that cannot start (model fails to load, prompt too
 * long, refused) is still an ordinary HTTP error: nothing has been written yet, and the exception
 * filter answers in the caller's dialect. After this resolves, the status line may go out and any
 * later failure has to travel in-band (see `streamReply`).
 *
 * The returned iterable always closes the generator, also when the consumer stops early or throws:
 * closing it is what frees the worker's sequence.
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

/** How one dialect frames a stream. */
export interface StreamFormat<T> {
  contentType: string;
  /** Writes one chunk. */
  write(writer: StreamWriter, chunk: T): void;
  /** Written after the last chunk (SSE's `[DONE]`). */
  end?(writer: StreamWriter): void;
  /** Writes the in-band error for a run that failed after streaming began. */
  error(writer: StreamWriter, e: unknown): void;
  /**
   * Keep reading the run after the client left (writes are dropped), to its final event, so the
   * worker's own counts settle; otherwise stop at once. Ollama reads on, OpenAI stops.
   */
  readAfterClose?: boolean;
}

/**
 * Streams `chunks` (a primed run, mapped to the dialect's chunks) on the hijacked socket. The
 * status line goes out here, so from here on a failure is reported to the meter and written
 * in-band, never thrown: there is no HTTP error left to send.
 */
export async function streamReply<T>(
  reply: FastifyReply,
  chunks: AsyncIterable<T>,
  format: StreamFormat<T>,
  meter?: { fail(e: unknown): void },
): Promise<void> {
  const writer = new StreamWriter(reply, format.contentType);
  try {
    for await (const chunk of chunks) {
      if (writer.isClosed && !format.readAfterClose) break;
      format.write(writer, chunk);
    }
    format.end?.(writer);
  } catch (e) {
    meter?.fail(e);
    format.error(writer, e);
  } finally {
    writer.end();
  }
}

/** A non-streamed reply, unless the client already left. */
export async function sendJson(reply: FastifyReply, body: unknown): Promise<void> {
  if (reply.raw.destroyed) return;
  await reply.status(200).header('content-type', 'application/json; charset=utf-8').send(body);
}
