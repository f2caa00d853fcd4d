/**
 * The audit log's view of inference: an observer of `RunObservers` (from @corral/serving) that the
 * AuditModule registers at init. For each ended run it
 * - adds the resolved model, token counts, the run's kind and time to first token to the request's
 *   own event while the request is in flight (found by request id through the interceptor), so
 *   every inference request's event carries its model and tokens;
 * - turns a quota refusal (`rate_limited`, `quota_exceeded`, or status 429) into `quota.refused`
 *   naming the limit;
 * - captures prompt and response when the team's policy says so, into `audit_content`, keyed by the
 *   request's event id and carrying its request id.
 * When the request's event was already recorded (or the run did not come over HTTP) it records an
 * event of its own (`api.inference` or `quota.refused`) with the same request id. It never throws
 * and never waits: recording is an enqueue.
 */
import { Logger } from '@nestjs/common';
import { auditFacts, type EndedRun, type RunObserver } from '@corral/core';
import { AUDIT_ACTIONS, type AuditEventInput } from './event';
import type { AuditInterceptor } from './interceptor';
import type { AuditService } from './audit.service';

/** An event of its own for a run whose request event is gone (or that had none). */
export const INFERENCE_ACTION = 'api.inference';

export function isQuotaRefusal(run: Pick<EndedRun, 'errorCode' | 'status'>): boolean {
  return run.errorCode === 'rate_limited' || run.errorCode === 'quota_exceeded' || run.status === 429;
}

function runDetail(run: EndedRun): Record<string, unknown> {
  return {
    kind: run.kind,
    ...(run.ttftMs !== undefined ? { ttft_ms: Math.round(run.ttftMs) } : {}),
    ...(isQuotaRefusal(run) ? { limit: run.limit ?? null } : {}),
  };
}

export class AuditRunObserver implements RunObserver {
  private readonly log = new Logger('Audit');

  constructor(
    private readonly service: AuditService,
    private readonly interceptor?: Pick<AuditInterceptor, 'inflight'>,
  ) {}

  runEnded(run: EndedRun): void {
    const refused = isQuotaRefusal(run);
    const inflight = this.interceptor?.inflight(run.requestId);
    let eventId: string;
    if (inflight) {
      const f = auditFacts(inflight.req);
      f.model = run.model;
      f.promptTokens = run.promptTokens;
      f.completionTokens = run.completionTokens;
      if (run.errorCode) f.errorCode ??= run.errorCode;
      if (run.teamId) f.teamId ??= run.teamId;
      if (refused) f.action = AUDIT_ACTIONS.quotaRefused;
      f.detail = { ...f.detail, ...runDetail(run) };
      eventId = inflight.eventId;
    } else {
      eventId = this.service.record(this.eventFor(run, refused));
    }
    if (run.teamId && run.input !== undefined) {
      this.service
        .recordContent(eventId, run.teamId, run.input, run.output ?? null, run.requestId)
        .catch((e: unknown) => this.log.error(`audit content capture failed: ${String(e)}`));
    }
  }

  private eventFor(run: EndedRun, refused: boolean): AuditEventInput {
    return {
      requestId: run.requestId,
      time: run.startedAt,
      actor: run.keyId
        ? { type: 'key', id: run.keyId }
        : run.userId
          ? { type: 'user', id: run.userId }
          : { type: 'anonymous', id: null },
      teamId: run.teamId,
      action: refused ? AUDIT_ACTIONS.quotaRefused : INFERENCE_ACTION,
      resource: run.route,
      route: `POST ${run.route}`,
      model: run.model,
      outcome: { status: run.status, errorCode: run.errorCode ?? null },
      tokens: { prompt: run.promptTokens, completion: run.completionTokens },
      durationMs: Math.max(0, Math.round(run.durationMs)),
      detail: runDetail(run),
    };
  }
}
