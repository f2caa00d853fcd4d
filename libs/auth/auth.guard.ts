/**
 * The global guard: every route needs a caller unless it is `@Public()`. It picks the passport
 * strategy by the credential the request carries — `Authorization`/`x-api-key` (ApiKeyStrategy),
 * else the console session cookie (SessionStrategy), else none (AnonymousLoopbackStrategy, which
 * lets in loopback callers only with CORRAL_AUTH_ANONYMOUS=loopback) — lets it verify the
 * credential, then applies Corral's rules: CSRF on unsafe session requests, the route's `@Scopes`,
 * the key's model allow-list.
 *
 * Every authentication failure gets the same 401 body; only 403s say what is missing. A presented
 * credential is always checked first: a correct one is never refused for others' failures, and a
 * source that keeps failing gets 429s (slowed) instead of 401s, each one audited.
 */
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Strategy } from 'passport';
import { CorralError, IS_PUBLIC } from '@corral/common';
import { recordChange } from '@corral/core';
import { hasApiKeyHeader, readCookie, safeEqual } from './credentials';
import { assertModelsAllowed, modelsInRequest } from './model-access';
import { setPrincipal, type Principal } from './principal';
import { FailureLimiter } from './rate-limit';
import { SCOPES_METADATA, type Scope } from './scopes';
import { CSRF_HEADER, SESSION_COOKIE } from './session.service';
import { AnonymousLoopbackStrategy } from './strategies/anonymous.strategy';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { isFailure, runStrategy, type AuthFailure } from './strategies/passport';
import { SessionStrategy } from './strategies/session.strategy';

// Kept here too: the login controllers import them from the guard.
export { isLoopback, readCookie } from './credentials';
export { ANONYMOUS_SCOPES } from './strategies/anonymous.strategy';

export const UNAUTHORIZED_MESSAGE = 'invalid or missing credentials';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const MODEL_SCOPES = new Set<Scope>(['inference', 'embeddings', 'models:read', 'models:write']);

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly apiKey: ApiKeyStrategy,
    private readonly session: SessionStrategy,
    private readonly anonymous: AnonymousLoopbackStrategy,
    private readonly limiter: FailureLimiter,
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

  /** The strategy for the credential present: a key header wins over a cookie. */
  private strategyFor(req: FastifyRequest): Strategy {
    if (hasApiKeyHeader(req)) return this.apiKey;
    if (readCookie(req, SESSION_COOKIE)) return this.session;
    return this.anonymous;
  }

  private async authenticate(req: FastifyRequest, reply: FastifyReply): Promise<Principal> {
    const outcome = await runStrategy(this.strategyFor(req), req, reply);
    if (isFailure(outcome)) return this.fail(req, reply, outcome);
    if (outcome.kind === 'session' && !SAFE_METHODS.has(req.method)) {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !outcome.csrfToken || !safeEqual(sent, outcome.csrfToken))
        throw new CorralError('forbidden', `missing or invalid ${CSRF_HEADER} header`);
    }
    return outcome;
  }

  /**
   * A presented credential that failed is counted, audited, and past the limit answered 429 after a
   * short delay; the limiter is never consulted before a credential is checked. No credentials at
   * all guess nothing: always a plain 401, so a misconfigured client sees why.
   */
  private async fail(req: FastifyRequest, reply: FastifyReply, failure: AuthFailure): Promise<never> {
    const { presented, keyId } = failure;
    const throttled = presented ? this.limiter.recordFailure(req.ip, keyId) : undefined;
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
  }
}
