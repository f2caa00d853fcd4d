/**
 * Console login: password → session cookie (HttpOnly, SameSite=Lax, Secure behind https) and a
 * CSRF token the console sends back as `x-csrf-token` on unsafe methods. Login itself is CSRF-safe
 * by an Origin check (a cross-site form post must not log a browser into an attacker's account).
 */
import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CorralError, Public } from '@corral/common';
import { parseInput } from './admin/validate';
import { recordChange } from '@corral/core';
import { AdminApiDocument } from './admin/openapi';
import { readCookie } from './auth.guard';
import { CurrentPrincipal, type Principal } from './principal';
import { FailureLimiter } from './rate-limit';
import { SESSION_COOKIE, SessionService } from './session.service';

const LoginBody = z.strictObject({
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(1024),
});

function isHttps(req: FastifyRequest): boolean {
  return req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
}

function assertSameOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host !== req.headers.host) throw new CorralError('forbidden', 'cross-origin login refused');
}

@Controller()
export class AuthController {
  constructor(
    private readonly sessions: SessionService,
    private readonly limiter: FailureLimiter,
    private readonly apiDoc: AdminApiDocument,
  ) {}

  @Public()
  @Post('auth/login')
  @HttpCode(200)
  async login(
    @Body() body: unknown,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    // Audit: every login attempt is an event naming the account tried (never the password); a
    // refused one is `auth.failure` whatever refused it (bad body, origin, rate limit, password).
    recordChange(req, { action: 'auth.failure', resource: 'session' });
    assertSameOrigin(req);
    const b = parseInput(LoginBody, body);
    recordChange(req, { detail: { login: 'password', email: b.email.toLowerCase() } });
    const account = `login:${b.email.toLowerCase()}`;
    // Per (account, address) and per address: a guesser elsewhere cannot lock this user out.
    this.limiter.assertLoginAllowed(req.ip, account);
    let result;
    try {
      result = await this.sessions.login(b.email, b.password);
    } catch (e) {
      if (e instanceof CorralError && e.code === 'unauthorized')
        this.limiter.recordLoginFailure(req.ip, account);
      throw e;
    }
    recordChange(req, {
      action: 'auth.login',
      resource: `user:${result.user.id}`,
      actor: { type: 'user', id: result.user.id },
    });
    const attrs = [
      `${SESSION_COOKIE}=${result.token}`,
      'Path=/',
      'HttpOnly',
      'SameSite=Lax',
      `Expires=${result.expiresAt.toUTCString()}`,
      ...(isHttps(req) ? ['Secure'] : []),
    ];
    void reply.header('set-cookie', attrs.join('; '));
    return {
      user: {
        id: result.user.id,
        email: result.user.email,
        name: result.user.name,
        global_role: result.user.globalRole,
      },
      csrf_token: result.csrfToken,
      expires_at: result.expiresAt.toISOString(),
    };
  }

  @Post('auth/logout')
  @HttpCode(204)
  async logout(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    const token = readCookie(req, SESSION_COOKIE);
    if (token) await this.sessions.logout(token);
    void reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  }

  /** Who the caller is: lets the console and `corral` show the identity a key or session carries. */
  @Get('auth/me')
  me(@CurrentPrincipal() p: Principal) {
    return {
      kind: p.kind,
      user_id: p.userId,
      key_id: p.keyId ?? null,
      team_id: p.teamId,
      global_role: p.globalRole,
      teams: p.teamRoles,
      scopes: [...p.scopes],
      models: p.models,
    };
  }

  /** Public so API tooling can read it before it has a key; it describes, never reveals, data. */
  @Public()
  @Get('admin/v1/openapi.json')
  openapi() {
    return this.apiDoc.get('1.0.0');
  }
}
