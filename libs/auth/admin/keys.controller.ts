import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import type { ApiKey } from '../auth.types';
import { KeyService } from '../key.service';
import { normalizeModel } from '../model-access';
import { isGlobalAdmin, CurrentPrincipal, type Principal } from '../principal';
import { AuthRepositories } from '../repositories';
import { Scopes } from '../scopes';
import { ownedTeams, teamFor } from './access';
import { AdminAction, recordChange } from '@corral/core';
import { AdminDoc } from './openapi';
import { CreateKeyBody, IssuedKeyOut, KeyOut, ListKeysQuery, RotateKeyBody, keyOut, pageOf } from './dto';
import { parseInput } from './validate';

const keyNotFound = () => new CorralError('not_found', 'API key not found');

/** API keys: admins manage every team's, owners their own teams'. The secret is shown once. */
@Controller('admin/v1/keys')
@Scopes('admin')
export class KeysController {
  constructor(
    private readonly repos: AuthRepositories,
    private readonly keys: KeyService,
  ) {}

  @Post()
  @AdminDoc({
    summary: 'Create an API key; the secret is in this response only',
    body: CreateKeyBody,
    response: IssuedKeyOut,
    status: 201,
  })
  @HttpCode(201)
  @AdminAction('key.create')
  async create(@CurrentPrincipal() p: Principal, @Body() body: unknown, @Req() req: FastifyRequest) {
    const b = parseInput(CreateKeyBody, body);
    recordChange(req, { teamId: b.team_id });
    await teamFor(this.repos, p, b.team_id, 'manage');
    // A key never grants more than its creator holds.
    for (const s of b.scopes) {
      if (!p.scopes.has(s))
        throw new CorralError('forbidden', `cannot grant the '${s}' scope you lack`, 'scopes');
    }
    let models: string[] | null = null;
    if (b.models) {
      models = [];
      for (const m of b.models) models.push(normalizeModel(m));
    }
    if (p.models) {
      const outside = models?.find((m) => !p.models!.includes(m));
      if (!models || outside)
        throw new CorralError('forbidden', 'cannot grant models outside your own allow-list', 'models');
    }
    const expiresAt = b.expires_at ? new Date(b.expires_at) : null;
    if (expiresAt && expiresAt.getTime() <= Date.now())
      throw new CorralError('bad_request', "'expires_at' is in the past", 'expires_at');
    const userId = b.user_id ?? p.userId;
    if (b.user_id && b.user_id !== p.userId) {
      const member = await this.repos.teams.getMember(b.team_id, b.user_id);
      if (!member && !(isGlobalAdmin(p) && (await this.repos.users.findById(b.user_id))))
        throw new CorralError('not_found', 'user not found in this team', 'user_id');
    }
    const issued = await this.keys.create({
      teamId: b.team_id,
      userId,
      name: b.name,
      scopes: b.scopes,
      models,
      expiresAt,
      createdBy: p.userId,
    });
    // keyOut never holds the secret; only this response does.
    recordChange(req, { resource: `key:${issued.key.id}`, before: null, after: keyOut(issued.key) });
    return { ...keyOut(issued.key), key: issued.secret };
  }

  @Get()
  @AdminDoc({ summary: 'List API keys', query: ListKeysQuery, response: pageOf(KeyOut) })
  async list(@CurrentPrincipal() p: Principal, @Query() query: unknown) {
    const q = parseInput(ListKeysQuery, query, 'query');
    const filter = {
      cursor: q.cursor,
      limit: q.limit,
      userId: q.user_id,
      name: q.name,
      includeRevoked: q.include_revoked,
    };
    let page;
    if (q.team_id) {
      await teamFor(this.repos, p, q.team_id, 'manage');
      page = await this.repos.keys.listInTeams([q.team_id], filter);
    } else {
      const teams = ownedTeams(p);
      page = teams ? await this.repos.keys.listInTeams(teams, filter) : await this.repos.keys.listAll(filter);
    }
    return { data: page.items.map(keyOut), next_cursor: page.nextCursor };
  }

  @Get(':id')
  @AdminDoc({ summary: 'Get an API key', response: KeyOut })
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return keyOut(await this.locate(p, id));
  }

  @Post(':id/rotate')
  @AdminDoc({
    summary: 'New secret; the old one stays valid for grace_seconds',
    body: RotateKeyBody,
    response: IssuedKeyOut,
  })
  @HttpCode(200)
  @AdminAction('key.rotate')
  async rotate(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `key:${id}` });
    const b = parseInput(RotateKeyBody, body);
    const key = await this.locate(p, id);
    recordChange(req, {
      teamId: key.teamId,
      before: keyOut(key),
      detail: { grace_seconds: b.grace_seconds },
    });
    if (key.revokedAt) throw new CorralError('conflict', 'a revoked key cannot be rotated');
    const issued = await this.keys.rotate(key.teamId, key.id, b.grace_seconds);
    if (!issued) throw keyNotFound();
    recordChange(req, { after: keyOut(issued.key) });
    return { ...keyOut(issued.key), key: issued.secret };
  }

  @Post(':id/revoke')
  @AdminDoc({ summary: 'Revoke an API key', response: KeyOut })
  @HttpCode(200)
  @AdminAction('key.revoke')
  revoke(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    return this.revokeKey(p, id, req);
  }

  @Delete(':id')
  @AdminDoc({ summary: 'Revoke an API key', response: KeyOut })
  @HttpCode(200)
  @AdminAction('key.revoke')
  remove(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    return this.revokeKey(p, id, req);
  }

  private async revokeKey(p: Principal, id: string, req: FastifyRequest) {
    recordChange(req, { resource: `key:${id}` });
    const key = await this.locate(p, id);
    recordChange(req, { teamId: key.teamId, before: keyOut(key) });
    const revoked = await this.keys.revoke(key.teamId, key.id);
    if (!revoked) throw keyNotFound();
    recordChange(req, { after: keyOut(revoked) });
    return keyOut(revoked);
  }

  /** The key when the caller manages its team; 404 otherwise, whether or not it exists. */
  private async locate(p: Principal, id: string): Promise<ApiKey> {
    const teams = ownedTeams(p) ?? [(await this.repos.keys.findForVerification(id))?.teamId];
    for (const teamId of teams) {
      if (!teamId) continue;
      const key = await this.repos.keys.findInTeam(teamId, id);
      if (key) return key;
    }
    throw keyNotFound();
  }
}
