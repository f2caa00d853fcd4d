import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import { newId } from '../credentials';
import { InvalidationBus } from '../invalidation';
import { assertStrongPassword, hashPassword } from '../password';
import { CurrentPrincipal, type Principal } from '../principal';
import { AuthRepositories } from '../repositories';
import { Scopes } from '../scopes';
import { requireGlobalAdmin } from './access';
import { AdminAction, recordChange } from '@corral/core';
import { AdminDoc } from './openapi';
import { CreateUserBody, ListUsersQuery, UpdateUserBody, UserOut, pageOf, userOut } from './dto';
import { parseInput } from './validate';

/** Users are global: only admins list, create or change them. */
@Controller('admin/v1/users')
@Scopes('admin')
export class UsersController {
  constructor(
    private readonly repos: AuthRepositories,
    private readonly bus: InvalidationBus,
  ) {}

  @Get()
  @AdminDoc({ summary: 'List users (admin)', query: ListUsersQuery, response: pageOf(UserOut) })
  async list(@CurrentPrincipal() p: Principal, @Query() query: unknown) {
    requireGlobalAdmin(p);
    const q = parseInput(ListUsersQuery, query, 'query');
    const page = await this.repos.users.list({ ...q, globalRole: q.global_role });
    return { data: page.items.map(userOut), next_cursor: page.nextCursor };
  }

  @Post()
  @AdminDoc({ summary: 'Create a user (admin)', body: CreateUserBody, response: UserOut, status: 201 })
  @HttpCode(201)
  @AdminAction('user.create')
  async create(@CurrentPrincipal() p: Principal, @Body() body: unknown, @Req() req: FastifyRequest) {
    requireGlobalAdmin(p);
    const b = parseInput(CreateUserBody, body);
    let passwordHash: string | null = null;
    if (b.password !== undefined) {
      assertStrongPassword(b.password, [b.email, b.name ?? '']);
      passwordHash = await hashPassword(b.password);
    }
    const user = await this.repos.users.create({
      id: newId('usr'),
      email: b.email,
      name: b.name ?? '',
      passwordHash,
      globalRole: b.global_role ?? null,
    });
    recordChange(req, { resource: `user:${user.id}`, before: null, after: userOut(user) });
    return userOut(user);
  }

  @Get(':id')
  @AdminDoc({ summary: 'Get a user (admin)', response: UserOut })
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    requireGlobalAdmin(p);
    const user = await this.repos.users.findById(id);
    if (!user) throw new CorralError('not_found', 'user not found');
    return userOut(user);
  }

  @Patch(':id')
  @AdminDoc({ summary: 'Update a user (admin)', body: UpdateUserBody, response: UserOut })
  @AdminAction('user.update')
  async update(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    requireGlobalAdmin(p);
    recordChange(req, { resource: `user:${id}` });
    const b = parseInput(UpdateUserBody, body);
    const existing = await this.repos.users.findById(id);
    if (!existing) throw new CorralError('not_found', 'user not found');
    recordChange(req, {
      before: userOut(existing),
      // The password itself never enters the log, only that it changed.
      detail: b.password !== undefined ? { password_changed: true } : undefined,
    });
    let passwordHash: string | undefined;
    if (b.password !== undefined) {
      assertStrongPassword(b.password, [existing.email, b.name ?? existing.name]);
      passwordHash = await hashPassword(b.password);
    }
    const user = await this.repos.users.update(id, {
      name: b.name,
      passwordHash,
      globalRole: b.global_role,
      disabled: b.disabled,
    });
    if (!user) throw new CorralError('not_found', 'user not found');
    if (b.disabled || b.password !== undefined) await this.repos.sessions.deleteForUser(id);
    // Cached key verifications carry the user's role and status.
    if (b.disabled !== undefined || b.global_role !== undefined) await this.bus.publish('*');
    recordChange(req, { after: userOut(user) });
    return userOut(user);
  }
}
