/**
 * Headers every response carries: API answers, errors, 404s, the root route and streams.
 * - `X-Content-Type-Options: nosniff`: a browser never runs a JSON or NDJSON answer as script/HTML.
 * - `Cache-Control: no-store`: answers carry prompts, completions and identities; no cache keeps
 *   them. A route that means to be cached (an immutable blob) sets its own.
 * - `Content-Security-Policy: frame-ancestors 'none'` and `X-Frame-Options: DENY`: nothing here may
 *   be framed (clickjacking of the coming web app). A page that needs a fuller policy sets its own.
 * - `Referrer-Policy: no-referrer`: URLs (which may name models, teams, keys) never leak onward.
 *
 * Set twice on purpose: in onRequest, so a streamed response that writes the socket itself (it
 * copies the reply's headers) has them, and in onSend for anything that replaced its headers.
 * Five constant headers do not justify @fastify/helmet, whose defaults target HTML sites and which
 * would not reach the answers Fastify writes itself (client errors, 414); those use `SECURITY_HEADERS`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'content-security-policy': "frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

function apply(reply: FastifyReply): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    if (!reply.hasHeader(name)) void reply.header(name, value);
}

export function installSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (_req, reply, done) => {
    apply(reply);
    done();
  });
  fastify.addHook('onSend', (_req, reply, payload, done) => {
    apply(reply);
    done(null, payload);
  });
}
