import { Injectable, Logger } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy as CustomStrategy } from 'passport-custom';
import { CorralError } from '@corral/common';
import { readCookie } from '../credentials';
import { SESSION_COOKIE, SessionService } from '../session.service';
import { SESSION_STRATEGY, authPassport, refuse, type StrategyResult } from './passport';

/**
 * The console's `corral_session` cookie (password or OIDC login). Sessions need the database: when
 * it cannot answer, 503. The CSRF token on unsafe methods is a Corral rule the guard applies after.
 */
@Injectable()
export class SessionStrategy extends PassportStrategy(CustomStrategy, SESSION_STRATEGY) {
  private readonly logger = new Logger('Auth');

  constructor(private readonly sessions: SessionService) {
    super();
  }

  async validate(req: FastifyRequest): Promise<StrategyResult> {
    const cookie = readCookie(req, SESSION_COOKIE);
    if (!cookie) return refuse(false);
    const p = await this.sessions.verify(cookie).catch((e: Error) => {
      this.logger.error(`session lookup failed: ${e.message}`);
      throw new CorralError('unavailable', 'authentication is temporarily unavailable; retry shortly');
    });
    return p ?? refuse(true);
  }

  getPassportInstance(): typeof authPassport {
    return authPassport;
  }
}
