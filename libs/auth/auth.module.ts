import { Inject, Module, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { CorralConfig } from '@corral/config';
import type { Database } from '@corral/persistence';
import type { ModelRegistry } from '@corral/registry';
import { CONFIG, DATABASE, REGISTRY } from '@corral/core';
import { KeysController } from './admin/keys.controller';
import { AdminApiDocument } from './admin/openapi';
import { TeamsController } from './admin/teams.controller';
import { UsersController } from './admin/users.controller';
import { OidcController } from './oidc/oidc.controller';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { InvalidationBus, LocalInvalidationBus, RedisInvalidationBus } from './invalidation';
import { KeyCache } from './key-cache';
import { KeyService } from './key.service';
import { LastUsedWriter } from './last-used';
import { installModelListFilter } from './model-list.filter';
import { ModelOwnership } from './model-ownership';
import { ModelOwnershipGuard, installOwnershipRelease } from './model-ownership.guard';
import { FailureLimiter } from './rate-limit';
import { AuthRepositories } from './repositories';
import { SessionService } from './session.service';
import { AnonymousLoopbackStrategy } from './strategies/anonymous.strategy';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { SessionStrategy } from './strategies/session.strategy';

/**
 * Identity for the gateway: the global guard (APP_GUARD) over one passport strategy per credential
 * type, login/logout, and the admin API for users, teams, members and keys. Needs CONFIG and
 * DATABASE from the gateway's core module.
 */
@Module({
  // DiscoveryModule: the admin API document is built from every registered route.
  imports: [DiscoveryModule],
  controllers: [AuthController, UsersController, TeamsController, KeysController, OidcController],
  providers: [
    {
      provide: AuthRepositories,
      useFactory: (db: Database) => new AuthRepositories(db.dataSource),
      inject: [DATABASE],
    },
    {
      provide: InvalidationBus,
      useFactory: (config: CorralConfig): Promise<InvalidationBus> | InvalidationBus =>
        config.redisUrl ? RedisInvalidationBus.connect(config.redisUrl) : new LocalInvalidationBus(),
      inject: [CONFIG],
    },
    { provide: KeyCache, useFactory: (bus: InvalidationBus) => new KeyCache(bus), inject: [InvalidationBus] },
    {
      provide: LastUsedWriter,
      useFactory: (repos: AuthRepositories) => new LastUsedWriter(repos.keys),
      inject: [AuthRepositories],
    },
    {
      provide: KeyService,
      useFactory: (
        repos: AuthRepositories,
        cache: KeyCache,
        bus: InvalidationBus,
        lastUsed: LastUsedWriter,
      ) => new KeyService(repos, cache, bus, lastUsed),
      inject: [AuthRepositories, KeyCache, InvalidationBus, LastUsedWriter],
    },
    {
      provide: SessionService,
      useFactory: (repos: AuthRepositories) => new SessionService(repos),
      inject: [AuthRepositories],
    },
    { provide: FailureLimiter, useValue: new FailureLimiter() },
    ApiKeyStrategy,
    SessionStrategy,
    AnonymousLoopbackStrategy,
    AdminApiDocument,
    {
      provide: ModelOwnership,
      useFactory: (repos: AuthRepositories, registry: ModelRegistry) =>
        new ModelOwnership(repos.modelOwners, repos.teams, registry),
      inject: [AuthRepositories, REGISTRY],
    },
    { provide: APP_GUARD, useClass: AuthGuard },
    // After AuthGuard: global guards run in this order, and it needs the caller AuthGuard found.
    { provide: APP_GUARD, useClass: ModelOwnershipGuard },
  ],
  exports: [KeyService, AuthRepositories],
})
export class AuthModule implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(InvalidationBus) private readonly bus: InvalidationBus,
    @Inject(LastUsedWriter) private readonly lastUsed: LastUsedWriter,
    @Inject(ModelOwnership) private readonly ownership: ModelOwnership,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const instance = this.adapterHost.httpAdapter?.getInstance() as FastifyInstance | undefined;
    if (instance && typeof instance.addHook === 'function') {
      installModelListFilter(instance);
      installOwnershipRelease(instance, this.ownership);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.lastUsed.close();
    await this.bus.close();
  }
}
