import { Readable } from 'node:stream';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AdminDoc, CurrentPrincipal, Scopes, type Principal } from '@corral/auth';
import { AdminAction, auditFacts, recordChange } from '@corral/core';
import { CorralError } from '@corral/common';
import { auditScopeFor, requireAuditor, requireTeamInScope } from './access';
import type { AuditLog } from './audit-log';
import { DbContentPolicies, readContent } from './content';
import {
  AuditQuerySchema,
  csvHeader,
  csvRow,
  exportAuditEvents,
  searchAuditEvents,
  type AuditScope,
} from './search';
import { AUDIT_LOG } from './audit.di-tokens';

const FormatSchema = z.enum(['json', 'ndjson', 'csv']).default('json');
const PolicyBody = z.object({
  capture: z.boolean(),
  retention_days: z.number().int().min(1).max(3650).default(30),
});

function parse<T extends z.ZodType>(schema: T, value: unknown, where: string): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = issue?.path.join('.') || undefined;
  throw new CorralError(
    'bad_request',
    `invalid ${where}${param ? ` ${param}` : ''}: ${issue?.message}`,
    param,
  );
}

/**
 * `/admin/v1/audit`: search (cursor pages, newest first), streamed export (`?format=ndjson|csv`,
 * oldest first), verification, and content-capture policies and content.
 */
@Controller('admin/v1/audit')
@Scopes('admin')
export class AuditController {
  constructor(@Inject(AUDIT_LOG) private readonly log: AuditLog) {}

  private get ds() {
    return this.log.dataSource;
  }

  @Get()
  @AdminDoc({
    summary: 'Search audit events, newest first (admins, auditors; team owners: their teams)',
    query: AuditQuerySchema.extend({ format: FormatSchema }),
    produces: ['application/x-ndjson', 'text/csv'],
  })
  async search(
    @CurrentPrincipal() p: Principal,
    @Query() query: Record<string, unknown>,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const scope = auditScopeFor(p);
    const { format, ...rest } = query;
    const fmt = parse(FormatSchema, format, 'query');
    const q = parse(AuditQuerySchema, rest, 'query');
    // Another team's events answer 404, like its other resources, not an empty page.
    if (q.team !== undefined) requireTeamInScope(p, scope, q.team);
    if (fmt === 'json') {
      try {
        await reply.send(await searchAuditEvents(this.ds, q, scope));
      } catch (e) {
        if (e instanceof Error && e.message === 'invalid cursor')
          throw new CorralError('bad_request', 'invalid cursor', 'cursor');
        throw e;
      }
      return;
    }
    await this.export(reply, fmt, q, scope);
  }

  private async export(
    reply: FastifyReply,
    fmt: 'ndjson' | 'csv',
    q: z.output<typeof AuditQuerySchema>,
    scope: AuditScope,
  ) {
    const rows = exportAuditEvents(this.ds, q, scope);
    async function* lines() {
      if (fmt === 'csv') yield csvHeader();
      for await (const e of rows) yield fmt === 'csv' ? csvRow(e) : JSON.stringify(e) + '\n';
    }
    const name = `corral-audit-${new Date().toISOString().replace(/[:.]/g, '-')}.${fmt}`;
    await reply
      .header('content-type', fmt === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="${name}"`)
      .send(Readable.from(lines()));
  }

  /** Walks the chain and checkpoints; the report names the first event changed, removed or reordered. */
  @Post('verify')
  @HttpCode(200)
  @AdminDoc({ summary: 'Verify the hash chain and signed checkpoints (admins, auditors)' })
  async verify(@CurrentPrincipal() p: Principal, @Req() req: FastifyRequest) {
    requireAuditor(p);
    recordChange(req, { action: 'audit.verify', resource: 'audit:chain' });
    const report = await this.log.verify();
    // The request's own event says what verification found.
    if (!report.ok) auditFacts(req).errorCode = `tamper_${report.problem?.kind}`;
    recordChange(req, { detail: { ok: report.ok, events: report.events, problem: report.problem ?? null } });
    return report;
  }

  /**
   * Rotates the checkpoint signing key (admins): the old key signs the chain head first, its public
   * half is kept so its checkpoints still verify, and a new key signs from then on.
   */
  @Post('rotate-key')
  @HttpCode(200)
  @AdminDoc({ summary: 'Rotate the checkpoint signing key (admins)' })
  @AdminAction('audit.key_rotate')
  async rotateKey(@CurrentPrincipal() p: Principal, @Req() req: FastifyRequest) {
    recordChange(req, { resource: 'audit:signing-key' });
    if (p.globalRole !== 'admin') throw new CorralError('forbidden', 'the signing key is rotated by admins');
    let r;
    try {
      r = await this.log.rotateKey();
    } catch (e) {
      throw new CorralError('conflict', `cannot rotate the audit signing key: ${(e as Error).message}`);
    }
    recordChange(req, { before: { key_id: r.previousKeyId }, after: { key_id: r.keyId } });
    return { previous_key_id: r.previousKeyId, key_id: r.keyId, retired_key_file: r.retiredKeyFile };
  }

  @Put('policies/:team')
  @AdminDoc({ summary: "Set a team's content-capture policy (admins)", body: PolicyBody })
  @AdminAction('audit_policy.update')
  async setPolicy(
    @CurrentPrincipal() p: Principal,
    @Param('team') team: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `team:${team}/audit_policy`, teamId: team });
    if (p.globalRole !== 'admin')
      throw new CorralError('forbidden', 'content capture policies are set by admins');
    const b = parse(PolicyBody, body, 'body');
    const policies = this.log.policies;
    if (!(policies instanceof DbContentPolicies))
      throw new CorralError('unsupported', 'content policies are managed by another service here');
    const before = await policies.policyFor(team);
    const after = { capture: b.capture, retentionDays: b.retention_days };
    await policies.setPolicy(team, after);
    recordChange(req, { before, after });
    return { team_id: team, capture: after.capture, retention_days: after.retentionDays };
  }

  @Get('content/:event')
  @AdminDoc({
    summary: "An event's captured prompt and response",
    query: z.object({ team: z.string().min(1).max(200) }),
  })
  async content(
    @CurrentPrincipal() p: Principal,
    @Param('event') event: string,
    @Query('team') team: unknown,
  ) {
    const t = parse(z.string().min(1).max(200), team, 'query team');
    requireTeamInScope(p, auditScopeFor(p), t);
    const c = parse(z.uuid(), event, 'event id') && (await readContent(this.ds, t, event));
    if (!c) throw new CorralError('not_found', 'no captured content for that event');
    return {
      event_id: c.eventId,
      request_id: c.requestId,
      team_id: c.teamId,
      time: c.time,
      expires_at: c.expiresAt,
      prompt: c.prompt,
      response: c.response,
    };
  }
}
