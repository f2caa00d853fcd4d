import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { CorralExceptionFilter } from '@corral/common';
import type { CorralConfig } from '@corral/config';
import type { Database } from '@corral/persistence';
import type { ModelRegistry } from '@corral/registry';
import type { Scheduler } from '@corral/dispatch';
import { CONFIG, DATABASE, REGISTRY, RunObservers, SCHEDULER } from '@corral/core';
import { OllamaApiModule } from '@corral/api-ollama';
import { OpenAiApiModule } from '@corral/api-openai';
import { AuthModule } from '@corral/auth';
import { QuotaModule } from '@corral/quota';
import { AuditModule } from '@corral/audit';
import { ClusterAdminModule, type WorkersSnapshot } from '@corral/cluster';
import { DistributionModule } from '@corral/distribution';
import { KnowledgeModule } from '@corral/knowledge';
import { HealthController } from './health/health.controller';

export interface CoreServices {
  config: CorralConfig;
  database: Database;
  registry: ModelRegistry;
  scheduler: Scheduler;
  /** What GET /admin/v1/workers shows: the forked workers, or the cluster's. None when absent (tests). */
  workers?: WorkersSnapshot;
}

const NO_WORKERS: WorkersSnapshot = { mode: 'embedded', workers: () => [] };

/** The singletons built at boot, provided to every feature module. */
@Global()
@Module({})
export class CoreModule {
  static with(core: CoreServices): DynamicModule {
    const providers = [
      { provide: CONFIG, useValue: core.config },
      { provide: DATABASE, useValue: core.database },
      { provide: REGISTRY, useValue: core.registry },
      { provide: SCHEDULER, useValue: core.scheduler },
      { provide: RunObservers, useValue: new RunObservers() },
    ];
    return { module: CoreModule, providers, exports: providers.map((p) => p.provide) };
  }
}

@Module({})
export class AppModule {
  static with(core: CoreServices): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.with(core),
        AuthModule,
        AuditModule,
        QuotaModule,
        OllamaApiModule,
        OpenAiApiModule,
        DistributionModule,
        KnowledgeModule,
        ClusterAdminModule.with(core.workers ?? NO_WORKERS),
      ],
      controllers: [HealthController],
      providers: [{ provide: APP_FILTER, useClass: CorralExceptionFilter }],
    };
  }
}
