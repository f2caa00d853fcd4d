/**
 * GET /admin/v1/usage?from&to&groupBy=team,key,user,model&granularity=hour|day|month|total
 * [&teamId&keyId&userId&model][&format=csv]. Admins and auditors see every team; a team owner sees its own teams
 * (teamId required when it owns several).
 */
import { Controller, Get, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CorralError } from '@corral/common';
import { AdminDoc, CurrentPrincipal, Scopes, isGlobalAdmin, type Principal } from '@corral/auth';
import { parsePolicy } from '../policy';
import { UsageRepository, usageCsv } from './usage.repository';
import { UsageQuerySchema } from './usage.types';

@Controller('admin/v1/usage')
@Scopes('admin')
export class UsageController {
  constructor(private readonly usage: UsageRepository) {}

  @Get()
  @AdminDoc({
    summary: 'Token and request usage, grouped (admins, auditors; team owners: their teams)',
    query: UsageQuerySchema,
    produces: ['text/csv'],
  })
  async get(
    @CurrentPrincipal() p: Principal,
    @Query() query: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const q = parsePolicy(UsageQuerySchema, query ?? {});
    // Admins and auditors (read-only global role) see every team; owners only the teams they own.
    if (!isGlobalAdmin(p) && p.globalRole !== 'auditor') {
      const owned = Object.entries(p.teamRoles)
        .filter(([, r]) => r === 'owner')
        .map(([t]) => t);
      if (q.teamId === undefined && owned.length === 1) q.teamId = owned[0];
      if (q.teamId === undefined)
        throw new CorralError(
          'bad_request',
          'teamId is required: usage is visible per team you own',
          'teamId',
        );
      if (!owned.includes(q.teamId))
        throw new CorralError('forbidden', "only an admin or the team's owner can read its usage");
    }
    const rows = await this.usage.query(q);
    if (q.format === 'csv') {
      void reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="corral-usage.csv"');
      return usageCsv(rows, q.groupBy, q.granularity !== 'total');
    }
    return {
      from: q.from.toISOString(),
      to: q.to.toISOString(),
      granularity: q.granularity,
      groupBy: q.groupBy,
      data: rows,
    };
  }
}
