/**
 * Writes a streamed response straight to the socket (NDJSON for Ollama, SSE for OpenAI) and turns
 * the client going away into an AbortSignal, so the generation is cancelled on the worker.
 */
import type { FastifyReply } from 'fastify';

/**
 * An AbortController that aborts when the client goes away before the response is complete: the
 * one disconnect signal of a request (metering reads it, the run is cancelled by it). Create it
 * before awaiting the model (a load can take long) so a disconnect then also cancels.
 */
export function abortOnDisconnect(reply: FastifyReply): AbortController {
  const ac = new AbortController();
  const raw = reply.raw;
  if (raw.destroyed && !raw.writableFinished) ac.abort();
  raw.on('close', () => {
    if (!raw.writableFinished) ac.abort();
  });
  return ac;
}

export class StreamWriter {
  readonly abort: AbortController;
  private closed = false;

  constructor(
    private readonly reply: FastifyReply,
    contentType: string,
    extraHeaders: Record<string, string> = {},
    abort?: AbortController,
  ) {
    this.abort = abort ?? abortOnDisconnect(reply);
    reply.hijack();
    const raw = reply.raw;
    // Headers already set on the reply (x-ratelimit-* from admission, ...) go out with the stream.
    const set: Record<string, string> = {};
    for (const [k, v] of Object.entries(reply.getHeaders()))
      if (v !== undefined && k !== 'content-length') set[k] = Array.isArray(v) ? v.join(', ') : String(v);
    raw.writeHead(200, {
      ...set,
      'content-type': contentType,
      'cache-control': 'no-store',
      'x-request-id': String(reply.request.id),
      ...extraHeaders,
    });
    raw.on('close', () => {
      this.closed = true;
    });
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(text: string): void {
    if (!this.closed) this.reply.raw.write(text);
  }

  json(obj: unknown): void {
    this.write(JSON.stringify(obj) + '\n');
  }

  sse(obj: unknown): void {
    this.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
  }

  end(): void {
    if (!this.closed) this.reply.raw.end();
  }
}

/** Nanoseconds since a process.hrtime.bigint() start, as a JS number. */
export function nsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}
