import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import { SCOPES, type GlobalRole, type Scope, type TeamRole } from './scopes';

/** Who is calling, as established by the guard for one request. */
export interface Principal {
  kind: 'key' | 'session' | 'anonymous';
  userId: string | null;
  /** The key's public id (kind 'key'). */
  keyId?: string;
  /** The key's team (kind 'key'); null for sessions and anonymous callers. */
  teamId: string | null;
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

const PRINCIPAL = Symbol('corral.principal');

export function setPrincipal(req: FastifyRequest, p: Principal): void {
  (req as unknown as Record<symbol, Principal>)[PRINCIPAL] = p;
}

export function principalOf(req: FastifyRequest): Principal | undefined {
  return (req as unknown as Record<symbol, Principal | undefined>)[PRINCIPAL];
}

/** The authenticated caller, in a controller method. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const p = principalOf(ctx.switchToHttp().getRequest<FastifyRequest>());
  if (!p) throw new CorralError('unauthorized', 'authentication required');
  return p;
});

export const isGlobalAdmin = (p: Principal) => p.globalRole === 'admin';
