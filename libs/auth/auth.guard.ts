/**
 * The global guard: every route needs a caller unless it is `@Public()`. Credentials are, in order,
 * `Authorization: Bearer <key>`, `x-api-key`, the console session cookie; with
 * CORRAL_AUTH_ANONYMOUS=loopback a credential-less request from a loopback address gets the model
 * scopes (never `admin`, never a global role). Then the route's `@Scopes` and the key's model
 * allow-list are enforced.
 *
 * Every authentication failure gets the same 401 body; only 403s say what is missing. A presented
 * credential is always checked first: a correct one is never refused for others' failures, and a
 * source that keeps failing gets 429s (slowed) instead of 401s, each one audited.
 */
import { Inject, Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CorralError, IS_PUBLIC } from '@corral/common';
import type { CorralConfig } from '@corral/config';
import { CONFIG, recordChange } from '@corral/core';
import { safeEqual } from './credentials';
import { parseApiKey } from './credentials';
import { KeyService } from './key.service';
import { assertModelsAllowed, modelsInRequest } from './model-access';
import { setPrincipal, type Principal } from './principal';
import { FailureLimiter } from './rate-limit';
import { SCOPES_METADATA, type Scope } from './scopes';
import { CSRF_HEADER, SESSION_COOKIE, SessionService } from './session.service';

export const UNAUTHORIZED_MESSAGE = 'invalid or missing credentials';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const MODEL_SCOPES = new Set<Scope>(['inference', 'embeddings', 'models:read', 'models:write']);

/**
 * What an anonymous loopback caller may do: what Ollama's API offers (run, embed, list, pull, create
 * and delete models) and knowledge bases, never the admin API. Browser pages are kept out by the
 * Host and Origin checks (libs/common/http/request-guards.ts) and the JSON-only body parser.
 */
export const ANONYMOUS_SCOPES: ReadonlySet<Scope> = new Set<Scope>([
  'inference',
  'embeddings',
  'models:read',
  'models:write',
  'kb:read',
  'kb:write',
]);

export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export function isLoopback(address: string): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: KeyService,
    private readonly sessions: SessionService,
    private readonly limiter: FailureLimiter,
    @Inject(CONFIG) private readonly config: CorralConfig,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const reply = ctx.switchToHttp().getResponse<FastifyReply>();
    const principal = await this.authenticate(req, reply);
    setPrincipal(req, principal);

    const required = this.reflector.getAllAndMerge<Scope[]>(SCOPES_METADATA, targets) ?? [];
    for (const scope of required) {
      if (!principal.scopes.has(scope))
        throw new CorralError(
          'forbidden',
          principal.kind === 'anonymous'
            ? `anonymous loopback access never has the '${scope}' scope; send an API key`
            : `this API key lacks the '${scope}' scope`,
        );
    }
    if (principal.models && required.some((s) => MODEL_SCOPES.has(s))) {
      assertModelsAllowed(principal.models, modelsInRequest(req));
    }
    return true;
  }

  private async authenticate(req: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    const address = req.ip;
    // A presented credential that failed is counted, audited, and past the limit answered 429
    // after a short delay; the limiter is never consulted before a credential is checked. No
    // credentials at all guess nothing: always a plain 401, so a misconfigured client sees why.
    const fail = async (keyId?: string, presented = true): Promise<never> => {
      const throttled = presented ? this.limiter.recordFailure(address, keyId) : undefined;
      if (presented)
        recordChange(req, {
          action: 'auth.failure',
          detail: { ...(keyId ? { key_id: keyId } : {}), ...(throttled ? { throttled: true } : {}) },
        });
      if (throttled) {
        await this.limiter.delay();
        void reply.header('retry-after', String(throttled.retryAfterS));
        throw throttled;
      }
      void reply.header('www-authenticate', 'Bearer realm="corral"');
      throw new CorralError('unauthorized', UNAUTHORIZED_MESSAGE);
    };
    const authorization = req.headers.authorization;
    const apiKeyHeader = req.headers['x-api-key'];
    let token: string | undefined;
    if (authorization !== undefined) {
      const m = /^Bearer +([^\s]+) *$/i.exec(authorization);
      if (!m) return fail();
      token = m[1];
    } else if (typeof apiKeyHeader === 'string') {
      token = apiKeyHeader.trim();
    }
    if (token !== undefined) {
      const keyId = parseApiKey(token)?.id;
      const p = await this.keys.verify(token);
      return p ?? fail(keyId);
    }

    const cookie = readCookie(req, SESSION_COOKIE);
    if (cookie) {
      const p = await this.sessions.verify(cookie).catch((e: Error) => {
        this.logger.error(`session lookup failed: ${e.message}`);
        throw new CorralError('unavailable', 'authentication is temporarily unavailable; retry shortly');
      });
      if (!p) return fail();
      if (!SAFE_METHODS.has(req.method)) {
        const sent = req.headers[CSRF_HEADER];
        if (typeof sent !== 'string' || !p.csrfToken || !safeEqual(sent, p.csrfToken))
          throw new CorralError('forbidden', `missing or invalid ${CSRF_HEADER} header`);
      }
      return p;
    }

    // A local reverse proxy would make every client look like loopback: forwarded requests never
    // count as local.
    if (
      this.config.authAnonymous === 'loopback' &&
      isLoopback(req.socket.remoteAddress ?? '') &&
      req.headers['x-forwarded-for'] === undefined &&
      req.headers.forwarded === undefined
    ) {
      return {
        kind: 'anonymous',
        userId: null,
        teamId: null,
        globalRole: null,
        teamRoles: {},
        scopes: ANONYMOUS_SCOPES,
        models: null,
      };
    }
    return fail(undefined, false);
  }
}
