/**
 * /admin/v1/teams/:id/quota and /admin/v1/keys/:id/quota. Admins set team quotas (a team owner
 * raising its own would defeat them); a team's owner may narrow its own keys; members read.
 * A PUT replaces the whole policy (a field left out means no limit) and applies on every gateway
 * within a second through the change notifier.
 */
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Put, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import { AdminDoc, CurrentPrincipal, Scopes, isGlobalAdmin, type Principal } from '@corral/auth';
import { AdminAction, recordChange } from '@corral/core';
import { KeyPolicySchema, TeamPolicySchema, parsePolicy, type Limits } from './policy';
import type { PolicyNotifier } from './policy-notifier';
import { QuotaPolicyRepository } from './policy.repository';
import type { QuotaStore } from './store';
import { KEY_TEAM, POLICY_NOTIFIER, QUOTA_STORE, type KeyTeamLookup } from './quota.di-tokens';

const notFound = (what: string) => new CorralError('not_found', `${what} not found`);

/** The body as stored, with nulls for unset limits so a client sees every field. */
function out(p: Limits & Record<string, unknown>) {
  return {
    requestsPerMinute: p.requestsPerMinute ?? null,
    tokensPerMinute: p.tokensPerMinute ?? null,
    concurrentRequests: p.concurrentRequests ?? null,
    dailyTokens: p.dailyTokens ?? null,
    monthlyTokens: p.monthlyTokens ?? null,
    maxTokensPerRequest: p.maxTokensPerRequest ?? null,
    allowedModels: p.allowedModels ?? null,
  };
}

@Controller('admin/v1')
@Scopes('admin')
export class QuotaController {
  constructor(
    private readonly repo: QuotaPolicyRepository,
    @Inject(POLICY_NOTIFIER) private readonly notifier: PolicyNotifier,
    @Inject(QUOTA_STORE) private readonly store: QuotaStore,
    @Inject(KEY_TEAM) private readonly keyTeam: KeyTeamLookup,
  ) {}

  @Get('teams/:id/quota')
  @AdminDoc({ summary: "A team's quota policy and current usage (members)" })
  async getTeam(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    if (!isGlobalAdmin(p) && p.teamRoles[id] === undefined) throw notFound('team');
    const policy = (await this.repo.getTeam(id)) ?? {};
    return { teamId: id, ...out(policy), weight: policy.weight ?? 1, usage: await this.store.usage(id) };
  }

  @Put('teams/:id/quota')
  @AdminDoc({ summary: "Replace a team's quota policy (admins)", body: TeamPolicySchema })
  @AdminAction('quota.update')
  async putTeam(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `team:${id}/quota`, teamId: id });
    if (!isGlobalAdmin(p)) {
      if (p.teamRoles[id] === undefined) throw notFound('team');
      throw new CorralError('forbidden', 'only an admin can change a team quota');
    }
    const prior = await this.repo.getTeam(id);
    recordChange(req, { before: prior ? { ...out(prior), weight: prior.weight ?? 1 } : null });
    const policy = await this.repo.putTeam(
      id,
      parsePolicy(TeamPolicySchema, body ?? {}),
      p.userId ?? p.keyId,
    );
    await this.notifier.publish({ kind: 'team', id });
    recordChange(req, { after: { ...out(policy), weight: policy.weight ?? 1 } });
    return { teamId: id, ...out(policy), weight: policy.weight ?? 1 };
  }

  @Delete('teams/:id/quota')
  @AdminDoc({ summary: "Remove a team's quota policy (admins)", status: 204 })
  @HttpCode(204)
  @AdminAction('quota.delete')
  async deleteTeam(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    recordChange(req, { resource: `team:${id}/quota`, teamId: id });
    if (!isGlobalAdmin(p)) throw new CorralError('forbidden', 'only an admin can change a team quota');
    const prior = await this.repo.getTeam(id);
    if (!(await this.repo.deleteTeam(id))) throw notFound('team quota');
    recordChange(req, { before: prior ? { ...out(prior), weight: prior.weight ?? 1 } : null, after: null });
    await this.notifier.publish({ kind: 'team', id });
  }

  @Get('keys/:id/quota')
  @AdminDoc({ summary: "A key's quota policy and current usage (its team's members)" })
  async getKey(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    const teamId = await this.keyAccess(p, id, 'read');
    const policy = (await this.repo.getKey(id)) ?? {};
    return {
      keyId: id,
      teamId,
      ...out(policy),
      priority: policy.priority ?? 'interactive',
      usage: await this.store.usage(teamId, id),
    };
  }

  @Put('keys/:id/quota')
  @AdminDoc({ summary: "Replace a key's quota policy (the team's owner)", body: KeyPolicySchema })
  @AdminAction('quota.update')
  async putKey(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `key:${id}/quota` });
    const teamId = await this.keyAccess(p, id, 'manage');
    const prior = await this.repo.getKey(id);
    recordChange(req, {
      teamId,
      before: prior ? { ...out(prior), priority: prior.priority ?? 'interactive' } : null,
    });
    const policy = await this.repo.putKey(id, parsePolicy(KeyPolicySchema, body ?? {}), p.userId ?? p.keyId);
    await this.notifier.publish({ kind: 'key', id });
    recordChange(req, { after: { ...out(policy), priority: policy.priority ?? 'interactive' } });
    return { keyId: id, teamId, ...out(policy), priority: policy.priority ?? 'interactive' };
  }

  @Delete('keys/:id/quota')
  @AdminDoc({ summary: "Remove a key's quota policy (the team's owner)", status: 204 })
  @HttpCode(204)
  @AdminAction('quota.delete')
  async deleteKey(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    recordChange(req, { resource: `key:${id}/quota` });
    const teamId = await this.keyAccess(p, id, 'manage');
    const prior = await this.repo.getKey(id);
    if (!(await this.repo.deleteKey(id))) throw notFound('key quota');
    recordChange(req, {
      teamId,
      before: prior ? { ...out(prior), priority: prior.priority ?? 'interactive' } : null,
      after: null,
    });
    await this.notifier.publish({ kind: 'key', id });
  }

  /** The key's team when the caller may see (member) or change (owner) it; 404 to outsiders. */
  private async keyAccess(p: Principal, keyId: string, need: 'read' | 'manage'): Promise<string> {
    const teamId = await this.keyTeam(keyId);
    if (teamId === undefined) throw notFound('key');
    if (isGlobalAdmin(p)) return teamId;
    const role = p.teamRoles[teamId];
    if (role === undefined) throw notFound('key');
    if (need === 'manage' && role !== 'owner')
      throw new CorralError('forbidden', "only the team's owner can change a key quota");
    return teamId;
  }
}
