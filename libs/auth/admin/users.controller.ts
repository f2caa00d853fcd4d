import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { CorralError } from '@corral/common';
import { newId } from '../credentials';
import { InvalidationBus } from '../invalidation';
import { assertStrongPassword, hashPassword } from '../password';
import { CurrentPrincipal, type Principal } from '../principal';
import { AuthRepositories } from '../repositories';
import { Scopes } from '../scopes';
import { requireGlobalAdmin } from './access';
import { CreateUserBody, ListUsersQuery, UpdateUserBody, userOut } from './dto';
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
  async list(@CurrentPrincipal() p: Principal, @Query() query: unknown) {
    requireGlobalAdmin(p);
    const q = parseInput(ListUsersQuery, query, 'query');
    const page = await this.repos.users.list({ ...q, globalRole: q.global_role });
    return { data: page.items.map(userOut), next_cursor: page.nextCursor };
  }

  @Post()
  @HttpCode(201)
  async create(@CurrentPrincipal() p: Principal, @Body() body: unknown) {
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
    return userOut(user);
  }

  @Get(':id')
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    requireGlobalAdmin(p);
    const user = await this.repos.users.findById(id);
    if (!user) throw new CorralError('not_found', 'user not found');
    return userOut(user);
  }

  @Patch(':id')
  async update(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown) {
    requireGlobalAdmin(p);
    const b = parseInput(UpdateUserBody, body);
    const existing = await this.repos.users.findById(id);
    if (!existing) throw new CorralError('not_found', 'user not found');
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
    return userOut(user);
  }
}
