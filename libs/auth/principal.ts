import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import { requestContext, type ContextPrincipal } from '@corral/core';
import { SCOPES, type GlobalRole, type Scope, type TeamRole } from './scopes';

/** Who is calling, as established by the guard for one request. */
export interface Principal extends ContextPrincipal {
  globalRole: GlobalRole | null;
  /** Teams the caller may act in, with the role it acts as there. */
  teamRoles: Readonly<Record<string, TeamRole>>;
  scopes: ReadonlySet<Scope>;
  /** Allowed models (lower-case full names); null = all. */
  models: readonly string[] | null;
  /** Session's CSRF token (kind 'session'). */
  csrfToken?: string;
}

export const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);

/** The guard's one write of the request's principal (the request context's `principal` slot). */
export function setPrincipal(req: FastifyRequest, p: Principal): void {
  requestContext(req).principal = p;
}

/** Only setPrincipal writes the slot, so what it holds is auth's full Principal. */
export function principalOf(req: FastifyRequest): Principal | undefined {
  return requestContext(req).principal as Principal | undefined;
}

/** The authenticated caller, in a controller method. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const p = principalOf(ctx.switchToHttp().getRequest<FastifyRequest>());
  if (!p) throw new CorralError('unauthorized', 'authentication required');
  return p;
});

export const isGlobalAdmin = (p: Principal) => p.globalRole === 'admin';

/** A scope the request needs beyond the route's own (which the guard checked): 403 without it. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (principal.scopes.has(scope)) return;
  throw new CorralError(
    'forbidden',
    principal.kind === 'anonymous'
      ? `anonymous loopback access never has the '${scope}' scope; send an API key`
      : `this API key lacks the '${scope}' scope`,
  );
}
