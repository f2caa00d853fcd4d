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
 *
 * Admin changes ride on the same event: a mutating admin route names its action with
 * `@AdminAction(...)` and describes its change with `recordChange(req, { resource, before, after })`
 * (both in the kernel's request context, libs/core/request-context.ts); the event takes them over.
 *
 * Each tracked request gets its event id when it starts, and is findable by request id while it is
 * in flight (`inflight()`), so the run observer can add the model, token counts or a quota refusal
 * to the request's own event and link captured content to it.
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
import { randomUUID } from 'node:crypto';
import { Reflector } from '@nestjs/core';
import { catchError, type Observable } from 'rxjs';
import { ERROR_STATUS, isCorralError } from '@corral/common';
import { ADMIN_ACTION, auditFacts, changeOf, type AuditFacts } from '@corral/core';
import { AUDIT_ACTIONS, type ActorType, type AuditEventInput } from './event';
import { AuditService } from './audit.service';

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

const TRACKED = Symbol('corral.audit.tracked');
const STARTED = Symbol('corral.audit.started');
const EVENT_ID = Symbol('corral.audit.eventId');

/** The id the request's event will carry (assigned when tracking starts). */
export function auditEventId(req: FastifyRequest): string | undefined {
  return (req as unknown as Record<symbol, string | undefined>)[EVENT_ID];
}

/** A request whose event is not recorded yet. */
export interface InflightRequest {
  eventId: string;
  req: FastifyRequest;
}

const reflector = new Reflector();

/** The action of the record written when a request is admitted (see `buildStartedEvent`). */
export const REQUEST_STARTED = 'request.started';

/** Methods that neither change state nor run inference: they get no start record. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a request gets a start record when it is admitted: every POST, PUT, PATCH and DELETE
 * (inference, admin changes, model imports and transfers; read-only POSTs such as /api/show too,
 * which keeps the rule one line).
 */
export const needsStartRecord = (req: FastifyRequest): boolean => !SAFE_METHODS.has(req.method);

/**
 * The record of a request's admission (the guard has let it through, the handler has not run).
 * It has its own event id; the request's completion event has the same `request_id`, so a request
 * cut short by a crash (SIGKILL, power loss) shows as a start without a completion. `details.event_id`
 * names the completion event the request would have written.
 */
export function buildStartedEvent(
  req: FastifyRequest,
  principal: AuditPrincipal | undefined,
  action: string | undefined,
): AuditEventInput {
  const body = req.body as { model?: unknown } | undefined;
  const model = body && typeof body.model === 'string' ? body.model : undefined;
  const ua = req.headers['user-agent'];
  return {
    requestId: String(req.id),
    actor: principal ? { type: principal.kind, id: principal.id } : { type: 'anonymous', id: null },
    teamId: principal?.teamId ?? null,
    action: REQUEST_STARTED,
    resource: req.url.split('?')[0]?.slice(0, 500),
    route: `${req.method} ${req.routeOptions?.url ?? req.url.split('?')[0]}`.slice(0, 500),
    model: model?.slice(0, 300),
    // Not an HTTP status: the request has no outcome yet.
    outcome: { status: 0, errorCode: null },
    clientAddress: req.ip,
    userAgent: typeof ua === 'string' ? ua.slice(0, 1000) : undefined,
    detail: { event_id: auditEventId(req) ?? null, ...(action ? { action } : {}) },
  };
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
  const note = changeOf(req);
  const errorCode =
    facts.errorCode ?? (status >= 400 ? (CODE_BY_STATUS.get(status) ?? `http_${status}`) : undefined);
  const action =
    note?.action ??
    facts.action ??
    (status === 401
      ? AUDIT_ACTIONS.authFailure
      : status === 429
        ? AUDIT_ACTIONS.quotaRefused
        : AUDIT_ACTIONS.apiRequest);
  const detail = facts.detail || note?.detail ? { ...facts.detail, ...note?.detail } : undefined;
  const actor =
    note?.actor ??
    (principal ? { type: principal.kind, id: principal.id } : { type: 'anonymous' as const, id: null });
  return {
    id: auditEventId(req),
    requestId: String(req.id),
    actor,
    teamId: note?.teamId ?? facts.teamId ?? principal?.teamId ?? null,
    action,
    resource: (note?.resource ?? req.url.split('?')[0])?.slice(0, 500),
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
    ...(note && 'before' in note ? { before: note.before } : {}),
    ...(note && 'after' in note ? { after: note.after } : {}),
    detail,
  };
}

/** DI token: `false` turns request recording off (CORRAL_AUDIT=off, for benchmarks and debugging). */
export const AUDIT_ENABLED = Symbol('corral.audit.enabled');

@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly resolve: PrincipalResolver;
  private readonly pending = new Map<string, InflightRequest>();
  private readonly enabled: boolean;

  constructor(
    private readonly audit: AuditService,
    @Optional() @Inject(AUDIT_PRINCIPAL) resolver?: PrincipalResolver,
    @Optional() @Inject(AUDIT_ENABLED) enabled?: boolean,
  ) {
    this.resolve = resolver ?? requestPrincipal;
    this.enabled = enabled !== false;
  }

  /** Fastify onRequest hook: `fastify.addHook('onRequest', interceptor.hook)`. */
  readonly hook = (req: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    this.track(req, reply);
    done();
  };

  /** The request with this id while its event is still to be recorded. */
  inflight(requestId: string): InflightRequest | undefined {
    return this.pending.get(requestId);
  }

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = ctx.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    this.track(req, http.getResponse<FastifyReply>());
    const action = reflector.get<string | undefined>(ADMIN_ACTION, ctx.getHandler());
    if (action) auditFacts(req).action ??= action;
    this.recordStart(req, action);
    return next.handle().pipe(
      catchError((e: unknown) => {
        const facts = auditFacts(req);
        facts.errorCode ??= isCorralError(e) ? e.code : undefined;
        // A quota refusal names the limit it hit (QuotaExceededError.limit).
        const limit = (e as { limit?: unknown } | null)?.limit;
        if (typeof limit === 'string') facts.detail = { ...facts.detail, limit };
        throw e;
      }),
    );
  }

  /**
   * Enqueues the start record of an admitted state-changing or inference request (once). Nest
   * interceptors run after the guard, so only admitted requests get one, with their principal.
   * Like every record it is an in-memory enqueue; the service's group commit makes it durable
   * (spool write + fsync, or XADD) on the next turn of the event loop, while the handler works.
   */
  private recordStart(req: FastifyRequest, action: string | undefined): void {
    if (!this.enabled || !needsStartRecord(req)) return;
    const r = req as unknown as Record<symbol, boolean | undefined>;
    if (r[STARTED] || !r[TRACKED]) return;
    r[STARTED] = true;
    try {
      this.audit.record(buildStartedEvent(req, this.resolve(req), action));
    } catch (e) {
      req.log.error({ err: e }, 'audit start record rejected');
    }
  }

  /** Records the request's event when its response closes (once per request). */
  track(req: FastifyRequest, reply: FastifyReply): void {
    if (!this.enabled) return;
    const r = req as unknown as Record<symbol, boolean | string | undefined>;
    if (r[TRACKED]) return;
    r[TRACKED] = true;
    const eventId = randomUUID();
    r[EVENT_ID] = eventId;
    const requestId = String(req.id);
    this.pending.set(requestId, { eventId, req });
    const started = performance.now();
    reply.raw.once('close', () => {
      this.pending.delete(requestId);
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
