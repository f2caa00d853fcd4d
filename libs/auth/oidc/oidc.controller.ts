/**
 * Console single sign-on: `GET /auth/oidc/login` → provider → `GET /auth/oidc/callback` → the same
 * session cookie password login sets. The controller is always registered (so the route table does
 * not depend on configuration); without CORRAL_OIDC_ISSUER both routes answer 404.
 *
 * The callback's CSRF token cannot travel in a body across a redirect: it is appended to the landing
 * URL's fragment (`#csrf_token=…`), which browsers never send to a server or write to access logs.
 */
import { Controller, Get, Inject, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CorralError, Public } from '@corral/common';
import type { CorralConfig } from '@corral/config';
import { CONFIG, recordChange } from '@corral/core';
import { readCookie } from '../auth.guard';
import { InvalidationBus } from '../invalidation';
import { AuthRepositories } from '../repositories';
import { SESSION_COOKIE, SessionService } from '../session.service';
import { OidcService } from './oidc.service';
import { STATE_COOKIE, STATE_TTL_MS, StateSealer, safeReturnTo } from './state-cookie';

function isHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
}

function cookie(req: FastifyRequest, name: string, value: string, attrs: string[]): string {
  return [`${name}=${value}`, ...attrs, 'HttpOnly', 'SameSite=Lax', ...(isHttps(req) ? ['Secure'] : [])].join(
    '; ',
  );
}

@Controller('auth/oidc')
export class OidcController {
  private readonly oidc?: OidcService;
  private readonly sealer?: StateSealer;

  constructor(
    @Inject(CONFIG) config: CorralConfig,
    repos: AuthRepositories,
    bus: InvalidationBus,
    private readonly sessions: SessionService,
  ) {
    if (config.oidc) {
      this.oidc = new OidcService(config.oidc, repos, bus);
      this.sealer = new StateSealer(config.oidc.clientSecret);
    }
  }

  private enabled(): { oidc: OidcService; sealer: StateSealer } {
    if (!this.oidc || !this.sealer) throw new CorralError('not_found', 'single sign-on is not configured');
    return { oidc: this.oidc, sealer: this.sealer };
  }

  private redirectUri(oidc: OidcService, req: FastifyRequest): string {
    if (oidc.options.redirectUrl) return oidc.options.redirectUrl;
    return `${isHttps(req) ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}/auth/oidc/callback`;
  }

  @Public()
  @Get('login')
  async login(
    @Query('redirect') redirect: unknown,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { oidc, sealer } = this.enabled();
    const { url, tx } = await oidc.begin(this.redirectUri(oidc, req), safeReturnTo(redirect).split('#')[0]!);
    // Path=/auth/oidc: the transaction cookie rides only on the callback, never on API calls.
    const attrs = ['Path=/auth/oidc', `Max-Age=${STATE_TTL_MS / 1000}`];
    void reply
      .header('set-cookie', cookie(req, STATE_COOKIE, sealer.seal(tx), attrs))
      .header('cache-control', 'no-store')
      .redirect(url.href, 302);
  }

  @Public()
  @Get('callback')
  async callback(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    // Audited as a failed sign-in unless it completes (then: auth.login naming the user).
    recordChange(req, { action: 'auth.failure', resource: 'session', detail: { login: 'oidc' } });
    const { oidc, sealer } = this.enabled();
    const clear = cookie(req, STATE_COOKIE, '', ['Path=/auth/oidc', 'Max-Age=0']);
    void reply.header('set-cookie', clear).header('cache-control', 'no-store');
    const sealed = readCookie(req, STATE_COOKIE);
    const tx = sealed ? sealer.open(sealed) : undefined;
    if (!tx) throw new CorralError('bad_request', 'sign-in expired or was started elsewhere; start it again');
    const query = new URL(req.url, 'http://x').searchParams;
    // openid-client checks state too; checking first gives a tampered or replayed callback a plain 400.
    if (query.get('state') !== tx.state && !query.has('error'))
      throw new CorralError('bad_request', 'sign-in state does not match; start it again');
    const user = await oidc.complete(query.toString(), tx);
    const s = await this.sessions.createFor(user);
    recordChange(req, {
      action: 'auth.login',
      resource: `user:${user.id}`,
      actor: { type: 'user', id: user.id },
      detail: { email: user.email },
    });
    void reply
      .header('set-cookie', [
        clear,
        cookie(req, SESSION_COOKIE, s.token, ['Path=/', `Expires=${s.expiresAt.toUTCString()}`]),
      ])
      .redirect(`${tx.returnTo}#csrf_token=${s.csrfToken}`, 302);
  }
}
