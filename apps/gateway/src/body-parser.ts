/**
 * One body parser for every content type. Ollama's server parses JSON whatever the Content-Type
 * says (so `curl -d '{...}'`, sent as form-urlencoded, works), and blob uploads must stream to disk
 * rather than be buffered: their route reads the raw request itself.
 */
import type { FastifyInstance } from 'fastify';

interface HttpError extends Error {
  statusCode?: number;
  code?: string;
}

export function installBodyParser(fastify: FastifyInstance, limit: number): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (req, payload, done) => {
    // Blob uploads and the registry API (/v2: blobs, pushed manifests) read the raw request.
    if (req.url.startsWith('/api/blobs/') || req.url.startsWith('/v2/')) return done(null, undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (err: HttpError | null, body?: unknown) => {
      if (finished) return;
      finished = true;
      done(err, body);
    };
    const tooLarge = () => {
      const e: HttpError = new Error(`request body is too large (limit ${limit} bytes)`);
      e.statusCode = 413;
      e.code = 'FST_ERR_CTP_BODY_TOO_LARGE';
      payload.resume();
      finish(e);
    };
    // A declared length over the limit is refused at once, before any of the body is read.
    if (Number(req.headers['content-length']) > limit) return tooLarge();
    payload.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) return tooLarge();
      chunks.push(c);
    });
    payload.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text.trim()) return finish(null, undefined);
      try {
        finish(null, JSON.parse(text));
      } catch (err) {
        const e: HttpError = new Error((err as Error).message);
        e.statusCode = 400;
        e.code = 'FST_ERR_CTP_INVALID_JSON_BODY';
        finish(e);
      }
    });
    payload.on('error', (e: HttpError) => finish(e));
  });
}
