import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { Strategy as CustomStrategy } from 'passport-custom';
import { parseApiKey, presentedApiKey } from '../credentials';
import { KeyService } from '../key.service';
import { API_KEY_STRATEGY, authPassport, refuse, type StrategyResult } from './passport';

/**
 * `Authorization: Bearer crl_…` or `x-api-key: crl_…`. Verification (cache, SHA-256, constant-time
 * compares, expiry, revocation, last-used) is KeyService's; a database outage with the key not
 * cached throws its 503 through passport's `error`.
 */
@Injectable()
export class ApiKeyStrategy extends PassportStrategy(CustomStrategy, API_KEY_STRATEGY) {
  constructor(private readonly keys: KeyService) {
    super();
  }

  async validate(req: FastifyRequest): Promise<StrategyResult> {
    const token = presentedApiKey(req);
    // A malformed Authorization header is a presented credential that failed, naming no key.
    if (token === null) return refuse(true);
    if (token === undefined) return refuse(false);
    return (await this.keys.verify(token)) ?? refuse(true, parseApiKey(token)?.id);
  }

  getPassportInstance(): typeof authPassport {
    return authPassport;
  }
}
