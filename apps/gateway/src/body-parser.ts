/**
 * One body parser for every content type. Blob uploads must stream to disk rather than be
 * buffered: their route reads the raw request itself. Every other route takes JSON, and a browser
 * may send it only as JSON, so a web page cannot post a "simple request" (text/plain, a form, no
 * type: sent cross-site without a CORS preflight) that the API would read as JSON:
 * - `application/json` and `application/*+json` (what the ollama, openai and Go clients send):
 *   always read;
 * - no Content-Type (Python `requests.post(data=...)`), `text/plain` (Node's `fetch` with a string
 *   body) and `application/x-www-form-urlencoded` (`curl -d`, as in Ollama's examples): read as
 *   JSON only from clients that are not browsers, i.e. without `Origin` and `Sec-Fetch-Site`,
 *   one of which every browser of the last years sends on a cross-site POST; else 415;
 * - anything else (`multipart/form-data`, `application/xml`, ...): 415.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';

interface HttpError extends Error {
  statusCode?: number;
  code?: string;
}

/** Media types that are JSON by name. */
function isJsonType(mediaType: string): boolean {
  return mediaType === 'application/json' || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(mediaType);
}

/**
 * A browser made the request: it says where the page came from. (Node's fetch sends
 * `Sec-Fetch-Mode` too, so that one does not count.)
 */
function fromBrowser(headers: IncomingHttpHeaders): boolean {
  return headers.origin !== undefined || headers['sec-fetch-site'] !== undefined;
}

/** What non-browser clients send with a JSON body besides application/json. */
const LENIENT_TYPES = new Set(['', 'text/plain', 'application/x-www-form-urlencoded']);

/** The 415 for a body this route must not read as JSON, or undefined when it may. */
export function refusedContentType(headers: IncomingHttpHeaders): HttpError | undefined {
  const raw = headers['content-type'];
  const mediaType = (raw ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (isJsonType(mediaType)) return undefined;
  if (LENIENT_TYPES.has(mediaType) && !fromBrowser(headers)) return undefined;
  const shown = raw === undefined ? 'none' : `'${mediaType.slice(0, 100)}'`;
  const e: HttpError = new Error(
    LENIENT_TYPES.has(mediaType)
      ? `unsupported Content-Type ${shown} from a browser: send the request body as application/json`
      : `unsupported Content-Type ${shown}: send the request body as application/json`,
  );
  e.statusCode = 415;
  e.code = 'FST_ERR_CTP_INVALID_MEDIA_TYPE';
  return e;
}

export function installBodyParser(fastify: FastifyInstance, limit: number): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (req, payload, done) => {
    // Blob uploads and the registry API (/v2: blobs, pushed manifests) read the raw request.
    if (req.url.startsWith('/api/blobs/') || req.url.startsWith('/v2/')) return done(null, undefined);
    const refused = refusedContentType(req.headers);
    if (refused) {
      payload.resume();
      return done(refused);
    }
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
