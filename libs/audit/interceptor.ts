/**
 * Builds the API-request event for every request. `AuditInterceptor` works two ways:
 * - as a Nest interceptor (`@UseInterceptors` / APP_INTERCEPTOR), which also sees the thrown error;
 * - as a Fastify `onRequest` hook (`auditInterceptor.hook`), which sees requests the guard refused
 *   too (guards run before Nest interceptors) — the recommended global wiring.
 * Both record when the response closes, so streamed responses get their real duration and status,
 * and a client that disconnects is recorded as status 499 `client_closed_request`.
 *
 * The principal is read at that moment through a resolver. The default reads `request.principal`,
 * shaped `{ kind: 'user' | 'key' | 'anonymous' | 'system', id, teamId }` (AuditPrincipal); the
 * AuditModule passes one that reads @corral/auth's principal. Handlers add what only they know
 * (token counts, resolved model) with `auditFacts(request)`.
 */
import {
  Inject,
  Injectable,
  Optional,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catchError, type Observable } from 'rxjs';
import { ERROR_STATUS, isCorralError } from '@corral/common';
import { AUDIT_ACTIONS, type ActorType, type AuditEventInput } from './event';
import { AuditService } from './service';

export interface AuditPrincipal {
  kind: ActorType;
  id: string | null;
  teamId?: string | null;
}

export type PrincipalResolver = (req: FastifyRequest) => AuditPrincipal | undefined;

/** DI token for a PrincipalResolver. */
export const AUDIT_PRINCIPAL = Symbol('corral.audit.principal');

export const requestPrincipal: PrincipalResolver = (req) =>
  (req as FastifyRequest & { principal?: AuditPrincipal }).principal;

/** What a handler can add to its request's audit event. */
export interface AuditFacts {
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  errorCode?: string;
  /** Overrides the principal's team (a session acting in one of its teams). */
  teamId?: string;
  /** Overrides the action (`auth.login` on the login route, for example). */
  action?: string;
  detail?: Record<string, unknown>;
}

const FACTS = Symbol('corral.audit.facts');
const TRACKED = Symbol('corral.audit.tracked');

/** The mutable facts bag of one request (created on first use). */
export function auditFacts(req: FastifyRequest): AuditFacts {
  const r = req as unknown as Record<symbol, AuditFacts | undefined>;
  return (r[FACTS] ??= {});
}

const CODE_BY_STATUS = new Map<number, string>();
for (const [code, status] of Object.entries(ERROR_STATUS))
  if (!CODE_BY_STATUS.has(status)) CODE_BY_STATUS.set(status, code);

/** The event for one finished request. Pure: the benchmark and tests call it directly. */
export function buildRequestEvent(
  req: FastifyRequest,
  status: number,
  durationMs: number,
  principal: AuditPrincipal | undefined,
  facts: AuditFacts,
): AuditEventInput {
  const body = req.body as { model?: unknown } | undefined;
  const model = facts.model ?? (body && typeof body.model === 'string' ? body.model : undefined);
  const ua = req.headers['user-agent'];
  const errorCode =
    facts.errorCode ?? (status >= 400 ? (CODE_BY_STATUS.get(status) ?? `http_${status}`) : undefined);
  const action =
    facts.action ??
    (status === 401
      ? AUDIT_ACTIONS.authFailure
      : status === 429
        ? AUDIT_ACTIONS.quotaRefused
        : AUDIT_ACTIONS.apiRequest);
  return {
    requestId: String(req.id),
    actor: principal ? { type: principal.kind, id: principal.id } : { type: 'anonymous', id: null },
    teamId: facts.teamId ?? principal?.teamId ?? null,
    action,
    resource: req.url.split('?')[0]?.slice(0, 500),
    route: `${req.method} ${req.routeOptions?.url ?? req.url.split('?')[0]}`.slice(0, 500),
    model: model?.slice(0, 300),
    outcome: { status, errorCode },
    tokens:
      facts.promptTokens !== undefined || facts.completionTokens !== undefined
        ? { prompt: facts.promptTokens, completion: facts.completionTokens }
        : undefined,
    durationMs: Math.max(0, Math.round(durationMs)),
    clientAddress: req.ip,
    userAgent: typeof ua === 'string' ? ua.slice(0, 1000) : undefined,
    detail: facts.detail,
  };
}

@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly resolve: PrincipalResolver;

  constructor(
    private readonly audit: AuditService,
    @Optional() @Inject(AUDIT_PRINCIPAL) resolver?: PrincipalResolver,
  ) {
    this.resolve = resolver ?? requestPrincipal;
  }

  /** Fastify onRequest hook: `fastify.addHook('onRequest', interceptor.hook)`. */
  readonly hook = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    this.track(req, reply);
    done();
  };

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = ctx.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    this.track(req, http.getResponse<FastifyReply>());
    return next.handle().pipe(
      catchError((e: unknown) => {
        const facts = auditFacts(req);
        facts.errorCode ??= isCorralError(e) ? e.code : undefined;
        throw e;
      }),
    );
  }

  /** Records the request's event when its response closes (once per request). */
  track(req: FastifyRequest, reply: FastifyReply): void {
    const r = req as unknown as Record<symbol, boolean | undefined>;
    if (r[TRACKED]) return;
    r[TRACKED] = true;
    const started = performance.now();
    reply.raw.once('close', () => {
      const finished = reply.raw.writableFinished;
      const facts = auditFacts(req);
      if (!finished) facts.errorCode ??= 'client_closed_request';
      try {
        this.audit.record(
          buildRequestEvent(
            req,
            finished ? reply.raw.statusCode : 499,
            performance.now() - started,
            this.resolve(req),
            facts,
          ),
        );
      } catch (e) {
        // An event that fails validation is a bug here, never the caller's problem.
        req.log.error({ err: e }, 'audit event rejected');
      }
    });
  }
}
