import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { CorralError } from '@corral/common';
import { newId } from '../credentials';
import { InvalidationBus } from '../invalidation';
import { CurrentPrincipal, type Principal } from '../principal';
import { AuthRepositories } from '../repositories';
import { Scopes } from '../scopes';
import { requireGlobalAdmin, teamFor } from './access';
import {
  AddMemberBody,
  CreateTeamBody,
  ListMembersQuery,
  ListTeamsQuery,
  UpdateMemberBody,
  UpdateTeamBody,
  memberOut,
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
  async list(@CurrentPrincipal() p: Principal, @Query() query: unknown) {
    const q = parseInput(ListTeamsQuery, query, 'query');
    const own = p.globalRole === 'admin' ? undefined : Object.keys(p.teamRoles);
    const page = await this.repos.teams.list(q, own);
    return { data: page.items.map(teamOut), next_cursor: page.nextCursor };
  }

  @Post()
  @HttpCode(201)
  async create(@CurrentPrincipal() p: Principal, @Body() body: unknown) {
    requireGlobalAdmin(p);
    const b = parseInput(CreateTeamBody, body);
    if (b.owner_id && !(await this.repos.users.findById(b.owner_id)))
      throw new CorralError('not_found', 'user not found', 'owner_id');
    const team = await this.repos.teams.create(newId('team'), b.name);
    if (b.owner_id) await this.repos.teams.addMember(team.id, b.owner_id, 'owner');
    return teamOut(team);
  }

  @Get(':id')
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return teamOut(await teamFor(this.repos, p, id, 'read'));
  }

  @Patch(':id')
  async rename(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown) {
    await teamFor(this.repos, p, id, 'manage');
    const b = parseInput(UpdateTeamBody, body);
    const team = await this.repos.teams.rename(id, b.name);
    if (!team) throw new CorralError('not_found', 'team not found');
    return teamOut(team);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<void> {
    requireGlobalAdmin(p);
    if (!(await this.repos.teams.delete(id))) throw new CorralError('not_found', 'team not found');
    // The team's keys went with it.
    await this.bus.publish('*');
  }

  @Get(':id/members')
  async members(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Query() query: unknown) {
    await teamFor(this.repos, p, id, 'read');
    const page = await this.repos.teams.listMembers(id, parseInput(ListMembersQuery, query, 'query'));
    return { data: page.items.map(memberOut), next_cursor: page.nextCursor };
  }

  @Post(':id/members')
  @HttpCode(201)
  async addMember(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown) {
    await teamFor(this.repos, p, id, 'manage');
    const b = parseInput(AddMemberBody, body);
    const user = b.user_id
      ? await this.repos.users.findById(b.user_id)
      : await this.repos.users.findByEmail(b.email ?? '');
    if (!user) throw new CorralError('not_found', 'user not found', b.user_id ? 'user_id' : 'email');
    await this.repos.teams.addMember(id, user.id, b.role);
    return memberOut((await this.repos.teams.getMember(id, user.id))!);
  }

  @Patch(':id/members/:userId')
  async updateMember(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Param('userId') userId: string,
    @Body() body: unknown,
  ) {
    await teamFor(this.repos, p, id, 'manage');
    const b = parseInput(UpdateMemberBody, body);
    const current = await this.repos.teams.getMember(id, userId);
    if (!current) throw new CorralError('not_found', 'member not found');
    if (current.role === 'owner' && b.role !== 'owner') await this.keepAnOwner(id);
    await this.repos.teams.setRole(id, userId, b.role);
    return memberOut((await this.repos.teams.getMember(id, userId))!);
  }

  @Delete(':id/members/:userId')
  @HttpCode(204)
  async removeMember(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Param('userId') userId: string,
  ): Promise<void> {
    await teamFor(this.repos, p, id, 'manage');
    const current = await this.repos.teams.getMember(id, userId);
    if (!current) throw new CorralError('not_found', 'member not found');
    if (current.role === 'owner') await this.keepAnOwner(id);
    await this.repos.teams.removeMember(id, userId);
  }

  private async keepAnOwner(teamId: string): Promise<void> {
    if ((await this.repos.teams.countOwners(teamId)) <= 1)
      throw new CorralError('conflict', 'a team must keep at least one owner');
  }
}
