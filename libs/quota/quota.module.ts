/**
 * The quota feature for Nest: the store (Redis when REDIS_URL is set, else in memory), policies
 * with their cache and change notifier, QuotaService for admission (provided to the inference
 * path as serving's QUOTA_GATE; the module is global so both dialects find it), the durable usage
 * writer (USAGE_SINK) fed by an observer of every ended inference request, and the admin
 * endpoints. Needs CONFIG, DATABASE and RunObservers from the gateway's core module and AuthModule
 * (guard, principal, key → team).
 */
import { join } from 'node:path';
import { Global, Inject, Module, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { clusterRedis, type CorralConfig } from '@corral/config';
import { LocalLeader, RedisLeader, RedisStreamBuffer, SpoolBuffer } from '@corral/durable';
import type { Database } from '@corral/persistence';
import { CONFIG, DATABASE, RunObservers } from '@corral/core';
import { QUOTA_GATE } from '@corral/serving';
import { AuthModule, AuthRepositories } from '@corral/auth';
import { MemoryQuotaStore } from './memory-store';
import { PolicyCache, repositorySource } from './policy-cache';
import { LocalPolicyNotifier, RedisPolicyNotifier, type PolicyNotifier } from './policy-notifier';
import { QuotaPolicyRepository } from './policy.repository';
import { QuotaController } from './quota.controller';
import { QuotaService } from './quota.service';
import { KEY_TEAM, POLICY_NOTIFIER, QUOTA_STORE, USAGE_SINK, type KeyTeamLookup } from './quota.di-tokens';
import { RedisQuotaStore } from './redis-store';
import type { QuotaStore } from './store';
import { UsageController } from './usage/usage.controller';
import { DurableUsageWriter, type UsageBuffer } from './usage/usage-writer';
import { UsageObserver } from './usage/usage-observer';
import { UsageRepository } from './usage/usage.repository';

const REDIS = Symbol('corral.quota.redis');

/** Where usage records wait for the database: the spool directory and the Redis key prefix. */
export const USAGE_SPOOL_DIR = 'usage-spool';
/** Appended to the cluster's Redis prefix (`corral:` or `corral:<schema>:`). */
export const USAGE_REDIS_PREFIX = 'usage:';

@Global()
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
    { provide: QUOTA_GATE, useExisting: QuotaService },
    {
      provide: USAGE_SINK,
      useFactory: async (c: CorralConfig, redis: Redis | null, repo: UsageRepository) => {
        // Records wait in Redis only where every gateway writes the same database (cluster mode).
        const cluster = clusterRedis(c);
        const r = cluster ? redis : null;
        const prefix = `${cluster?.prefix ?? 'corral:'}${USAGE_REDIS_PREFIX}`;
        const buffer: UsageBuffer = r
          ? new RedisStreamBuffer({ redis: r, prefix })
          : await SpoolBuffer.open({ dir: join(c.home, USAGE_SPOOL_DIR) });
        const leader = r ? new RedisLeader({ redis: r, prefix }) : new LocalLeader();
        const writer = new DurableUsageWriter(buffer, repo, { leader });
        writer.start();
        return writer;
      },
      inject: [CONFIG, REDIS, UsageRepository],
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
  exports: [QuotaService, QUOTA_GATE, USAGE_SINK, QUOTA_STORE],
})
export class QuotaModule implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(REDIS) private readonly redis: Redis | null,
    @Inject(POLICY_NOTIFIER) private readonly notifier: PolicyNotifier,
    @Inject(USAGE_SINK) private readonly usage: DurableUsageWriter,
    @Inject(PolicyCache) private readonly cache: PolicyCache,
    @Optional() private readonly observers?: RunObservers,
  ) {}

  onModuleInit(): void {
    this.observers?.add(new UsageObserver(this.usage));
  }

  async onModuleDestroy(): Promise<void> {
    this.cache.close();
    // Usage first: what was recorded reaches the buffer (and is written at the next start).
    await this.usage.close().catch(() => undefined);
    await this.notifier.close();
    await this.redis?.quit();
  }
}
