/**
 * Browser-facing defences that run on every request, before routing reaches a controller and
 * whatever the credentials (Fastify onRequest hook):
 * - DNS rebinding: bound to a loopback address, only Host names that mean this machine are served.
 * - Cross-site requests: a state-changing request (POST, PUT, PATCH, DELETE) carrying an Origin
 *   outside the allow-list is refused, so a web page cannot drive the API through the browser of
 *   someone who can reach it (anonymous loopback mode, a console session).
 * Both answer 403 in the caller's dialect. Non-browser clients (SDKs, curl) send no Origin.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CorralError } from '../errors';
import { OriginAllowList, hostAllowed, isLoopbackName } from './origins';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface RequestGuardOptions {
  /** The address the gateway listens on (CORRAL_HOST's host). */
  boundHost: string;
  /** The origin allow-list (defaults plus CORRAL_ORIGINS / OLLAMA_ORIGINS). */
  origins: OriginAllowList;
}

/** The checks as one function, for a hook or a test. Throws a 403 CorralError. */
export function checkBrowserRequest(
  req: Pick<FastifyRequest, 'method' | 'headers'>,
  opts: RequestGuardOptions & { loopbackBound: boolean },
): void {
  const host = req.headers.host;
  if (opts.loopbackBound && !hostAllowed(host, opts.boundHost))
    throw new CorralError(
      'forbidden',
      `host '${String(host).slice(0, 200)}' is not allowed: this server answers only local host names`,
    );
  const origin = req.headers.origin;
  if (origin !== undefined && UNSAFE_METHODS.has(req.method) && !opts.origins.allows(origin, host))
    throw new CorralError(
      'forbidden',
      `origin '${origin.slice(0, 200)}' is not allowed; add it to CORRAL_ORIGINS to let its pages call this server`,
    );
}

export function installRequestGuards(fastify: FastifyInstance, opts: RequestGuardOptions): void {
  const full = { ...opts, loopbackBound: isLoopbackName(opts.boundHost) };
  fastify.addHook('onRequest', (req: FastifyRequest, _reply: FastifyReply, done: (e?: Error) => void) => {
    try {
      checkBrowserRequest(req, full);
      done();
    } catch (e) {
      done(e as Error);
    }
  });
}
