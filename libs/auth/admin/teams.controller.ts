import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import { newId } from '../credentials';
import { InvalidationBus } from '../invalidation';
import { CurrentPrincipal, type Principal } from '../principal';
import { AuthRepositories } from '../repositories';
import { Scopes } from '../scopes';
import { requireGlobalAdmin, teamFor } from './access';
import { AdminAction, recordChange } from '@corral/core';
import { AdminDoc } from './openapi';
import {
  AddMemberBody,
  CreateTeamBody,
  ListMembersQuery,
  ListTeamsQuery,
  MemberOut,
  TeamOut,
  UpdateMemberBody,
  UpdateTeamBody,
  memberOut,
  pageOf,
  teamOut,
} from './dto';
import { parseInput } from './validate';

@Controller('admin/v1/teams')
@Scopes('admin')
export class TeamsController {
  constructor(
    private readonly repos: AuthRepositories,
    private readonly bus: InvalidationBus,
  ) {}

  /** Admins see every team; others the teams they belong to. */
  @Get()
  @AdminDoc({
    summary: 'List teams (admin: all; others: their own)',
    query: ListTeamsQuery,
    response: pageOf(TeamOut),
  })
  async list(@CurrentPrincipal() p: Principal, @Query() query: unknown) {
    const q = parseInput(ListTeamsQuery, query, 'query');
    const own = p.globalRole === 'admin' ? undefined : Object.keys(p.teamRoles);
    const page = await this.repos.teams.list(q, own);
    return { data: page.items.map(teamOut), next_cursor: page.nextCursor };
  }

  @Post()
  @AdminDoc({ summary: 'Create a team (admin)', body: CreateTeamBody, response: TeamOut, status: 201 })
  @HttpCode(201)
  @AdminAction('team.create')
  async create(@CurrentPrincipal() p: Principal, @Body() body: unknown, @Req() req: FastifyRequest) {
    requireGlobalAdmin(p);
    const b = parseInput(CreateTeamBody, body);
    if (b.owner_id && !(await this.repos.users.findById(b.owner_id)))
      throw new CorralError('not_found', 'user not found', 'owner_id');
    const team = await this.repos.teams.create(newId('team'), b.name);
    if (b.owner_id) await this.repos.teams.addMember(team.id, b.owner_id, 'owner');
    recordChange(req, {
      resource: `team:${team.id}`,
      teamId: team.id,
      before: null,
      after: { ...teamOut(team), owner_id: b.owner_id ?? null },
    });
    return teamOut(team);
  }

  @Get(':id')
  @AdminDoc({ summary: 'Get a team', response: TeamOut })
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return teamOut(await teamFor(this.repos, p, id, 'read'));
  }

  @Patch(':id')
  @AdminDoc({ summary: 'Rename a team (owner)', body: UpdateTeamBody, response: TeamOut })
  @AdminAction('team.update')
  async rename(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `team:${id}`, teamId: id });
    const existing = await teamFor(this.repos, p, id, 'manage');
    const b = parseInput(UpdateTeamBody, body);
    const team = await this.repos.teams.rename(id, b.name);
    if (!team) throw new CorralError('not_found', 'team not found');
    recordChange(req, { before: teamOut(existing), after: teamOut(team) });
    return teamOut(team);
  }

  @Delete(':id')
  @AdminDoc({ summary: 'Delete a team and its keys (admin)', status: 204 })
  @HttpCode(204)
  @AdminAction('team.delete')
  async remove(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Req() req: FastifyRequest,
  ): Promise<void> {
    recordChange(req, { resource: `team:${id}`, teamId: id });
    requireGlobalAdmin(p);
    const existing = await this.repos.teams.findById(id);
    if (!existing || !(await this.repos.teams.delete(id)))
      throw new CorralError('not_found', 'team not found');
    recordChange(req, { before: teamOut(existing), after: null });
    // The team's keys went with it.
    await this.bus.publish('*');
  }

  @Get(':id/members')
  @AdminDoc({ summary: 'List members', query: ListMembersQuery, response: pageOf(MemberOut) })
  async members(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Query() query: unknown) {
    await teamFor(this.repos, p, id, 'read');
    const page = await this.repos.teams.listMembers(id, parseInput(ListMembersQuery, query, 'query'));
    return { data: page.items.map(memberOut), next_cursor: page.nextCursor };
  }

  @Post(':id/members')
  @AdminDoc({ summary: 'Add a member (owner)', body: AddMemberBody, response: MemberOut, status: 201 })
  @HttpCode(201)
  @AdminAction('membership.create')
  async addMember(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `team:${id}/members`, teamId: id });
    await teamFor(this.repos, p, id, 'manage');
    const b = parseInput(AddMemberBody, body);
    const user = b.user_id
      ? await this.repos.users.findById(b.user_id)
      : await this.repos.users.findByEmail(b.email ?? '');
    if (!user) throw new CorralError('not_found', 'user not found', b.user_id ? 'user_id' : 'email');
    const before = await this.repos.teams.getMember(id, user.id);
    await this.repos.teams.addMember(id, user.id, b.role);
    const member = memberOut((await this.repos.teams.getMember(id, user.id))!);
    recordChange(req, {
      resource: `team:${id}/members/${user.id}`,
      before: before ? memberOut(before) : null,
      after: member,
    });
    return member;
  }

  @Patch(':id/members/:userId')
  @AdminDoc({ summary: "Change a member's role (owner)", body: UpdateMemberBody, response: MemberOut })
  @AdminAction('membership.update')
  async updateMember(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Param('userId') userId: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `team:${id}/members/${userId}`, teamId: id });
    await teamFor(this.repos, p, id, 'manage');
    const b = parseInput(UpdateMemberBody, body);
    const current = await this.repos.teams.getMember(id, userId);
    if (!current) throw new CorralError('not_found', 'member not found');
    recordChange(req, { before: memberOut(current) });
    if (current.role === 'owner' && b.role !== 'owner') await this.keepAnOwner(id);
    await this.repos.teams.setRole(id, userId, b.role);
    const member = memberOut((await this.repos.teams.getMember(id, userId))!);
    recordChange(req, { after: member });
    return member;
  }

  @Delete(':id/members/:userId')
  @AdminDoc({ summary: 'Remove a member (owner)', status: 204 })
  @HttpCode(204)
  @AdminAction('membership.delete')
  async removeMember(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Param('userId') userId: string,
    @Req() req: FastifyRequest,
  ): Promise<void> {
    recordChange(req, { resource: `team:${id}/members/${userId}`, teamId: id });
    await teamFor(this.repos, p, id, 'manage');
    const current = await this.repos.teams.getMember(id, userId);
    if (!current) throw new CorralError('not_found', 'member not found');
    recordChange(req, { before: memberOut(current) });
    if (current.role === 'owner') await this.keepAnOwner(id);
    await this.repos.teams.removeMember(id, userId);
    recordChange(req, { after: null });
  }

  private async keepAnOwner(teamId: string): Promise<void> {
    if ((await this.repos.teams.countOwners(teamId)) <= 1)
      throw new CorralError('conflict', 'a team must keep at least one owner');
  }
}
