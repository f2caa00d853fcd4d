/**
 * The quota feature for Nest: the store (Redis when REDIS_URL is set, else in memory), policies
 * with their cache and change notifier, QuotaService for admission, the batched usage writer
 * (USAGE_SINK), and the admin endpoints. Needs CONFIG and DATABASE from the gateway's core module
 * and AuthModule (guard, principal, key → team).
 */
import { Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { CorralConfig } from '@corral/config';
import type { Database } from '@corral/persistence';
import { CONFIG, DATABASE } from '@corral/serving';
import { AuthModule, AuthRepositories } from '@corral/auth';
import { MemoryQuotaStore } from './memory-store';
import { PolicyCache, repositorySource } from './policy-cache';
import { LocalPolicyNotifier, RedisPolicyNotifier, type PolicyNotifier } from './policy-notifier';
import { QuotaPolicyRepository } from './policy.repository';
import { QuotaController } from './quota.controller';
import { QuotaService } from './quota.service';
import { KEY_TEAM, POLICY_NOTIFIER, QUOTA_STORE, USAGE_SINK, type KeyTeamLookup } from './quota.tokens';
import { RedisQuotaStore } from './redis-store';
import type { QuotaStore } from './store';
import { UsageController } from './usage/usage.controller';
import { BatchedUsageWriter } from './usage/usage-writer';
import { UsageRepository } from './usage/usage.repository';

const REDIS = Symbol('corral.quota.redis');

@Module({
  imports: [AuthModule],
  controllers: [QuotaController, UsageController],
  providers: [
    {
      provide: REDIS,
      useFactory: (c: CorralConfig) =>
        c.redisUrl ? new Redis(c.redisUrl, { maxRetriesPerRequest: 2 }) : null,
      inject: [CONFIG],
    },
    {
      provide: QUOTA_STORE,
      useFactory: (r: Redis | null): QuotaStore => (r ? new RedisQuotaStore(r) : new MemoryQuotaStore()),
      inject: [REDIS],
    },
    {
      provide: POLICY_NOTIFIER,
      useFactory: (r: Redis | null): PolicyNotifier =>
        r ? new RedisPolicyNotifier(r) : new LocalPolicyNotifier(),
      inject: [REDIS],
    },
    {
      provide: QuotaPolicyRepository,
      useFactory: (db: Database) => new QuotaPolicyRepository(db.dataSource),
      inject: [DATABASE],
    },
    {
      provide: PolicyCache,
      useFactory: (repo: QuotaPolicyRepository, n: PolicyNotifier) =>
        new PolicyCache(repositorySource(repo), n),
      inject: [QuotaPolicyRepository, POLICY_NOTIFIER],
    },
    {
      provide: QuotaService,
      useFactory: (store: QuotaStore, cache: PolicyCache) => new QuotaService(store, cache),
      inject: [QUOTA_STORE, PolicyCache],
    },
    {
      provide: UsageRepository,
      useFactory: (db: Database) => new UsageRepository(db.dataSource),
      inject: [DATABASE],
    },
    {
      provide: USAGE_SINK,
      useFactory: (repo: UsageRepository) => new BatchedUsageWriter(repo),
      inject: [UsageRepository],
    },
    {
      provide: KEY_TEAM,
      useFactory:
        (repos: AuthRepositories): KeyTeamLookup =>
        async (id) =>
          (await repos.keys.findForVerification(id))?.teamId,
      inject: [AuthRepositories],
    },
  ],
  exports: [QuotaService, USAGE_SINK, QUOTA_STORE],
})
export class QuotaModule implements OnModuleDestroy {
  constructor(
    @Inject(REDIS) private readonly redis: Redis | null,
    @Inject(POLICY_NOTIFIER) private readonly notifier: PolicyNotifier,
    @Inject(USAGE_SINK) private readonly usage: BatchedUsageWriter,
    @Inject(PolicyCache) private readonly cache: PolicyCache,
  ) {}

  async onModuleDestroy(): Promise<void> {
    this.cache.close();
    // Usage first: its last batch goes to the database before the process leaves.
    await this.usage.close().catch(() => undefined);
    await this.notifier.close();
    await this.redis?.quit();
  }
}
