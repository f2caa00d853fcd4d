import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy as CustomStrategy } from 'passport-custom';
import type { CorralConfig } from '@corral/config';
import { CONFIG } from '@corral/core';
import { isLoopback } from '../credentials';
import type { Principal } from '../principal';
import type { Scope } from '../scopes';
import { ANONYMOUS_STRATEGY, authPassport, refuse, type StrategyResult } from './passport';

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

/**
 * CORRAL_AUTH_ANONYMOUS=loopback: a request with no credentials at all from 127.0.0.1 or ::1 gets
 * ANONYMOUS_SCOPES (never `admin`, never a global role). Otherwise, and always while the mode is
 * off, it fails as "no credentials" (a plain 401, never counted).
 */
@Injectable()
export class AnonymousLoopbackStrategy extends PassportStrategy(CustomStrategy, ANONYMOUS_STRATEGY) {
  constructor(@Inject(CONFIG) private readonly config: CorralConfig) {
    super();
  }

  validate(req: FastifyRequest): StrategyResult {
    // A local reverse proxy would make every client look like loopback: forwarded requests never
    // count as local.
    const local =
      this.config.authAnonymous === 'loopback' &&
      isLoopback(req.socket.remoteAddress ?? '') &&
      req.headers['x-forwarded-for'] === undefined &&
      req.headers.forwarded === undefined;
    if (!local) return refuse(false);
    const anonymous: Principal = {
      kind: 'anonymous',
      userId: null,
      teamId: null,
      globalRole: null,
      teamRoles: {},
      scopes: ANONYMOUS_SCOPES,
      models: null,
    };
    return anonymous;
  }

  getPassportInstance(): typeof authPassport {
    return authPassport;
  }
}
