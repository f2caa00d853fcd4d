import { Inject, Module, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { clusterRedis, type CorralConfig } from '@corral/config';
import type { Database } from '@corral/persistence';
import { CONFIG, DATABASE, RunObservers } from '@corral/core';
import { authPrincipal } from './access';
import { openAuditLog, type AuditLog } from './audit-log';
import { AuditController } from './audit.controller';
import { AUDIT_ENABLED, AUDIT_PRINCIPAL, AuditInterceptor } from './interceptor';
import { AuditRunObserver } from './run-observer';
import { AuditService } from './audit.service';
import { AUDIT_LOG } from './audit.di-tokens';

/**
 * The audit log in the gateway: opens it at boot (key, buffer, appender with scheduled retention),
 * serves `/admin/v1/audit`, provides `AuditService` and `AuditInterceptor` to other modules, runs
 * the interceptor globally (it names admin actions and error codes), and watches inference through
 * `RunObservers` (model, tokens, quota refusals, content capture). Needs CONFIG and DATABASE from the
 * core module and the AuthModule's global guard; RunObservers when the core module provides it.
 */
@Module({
  controllers: [AuditController],
  providers: [
    {
      provide: AUDIT_LOG,
      useFactory: (config: CorralConfig, db: Database) =>
        openAuditLog({
          dataSource: db.dataSource,
          home: config.home,
          keyFile: config.auditKeyFile,
          // Cluster mode only; installations sharing a Redis but not a schema never share a stream or leader.
          redisUrl: clusterRedis(config)?.url,
          redisPrefix: clusterRedis(config)?.prefix,
          retention: {
            days: config.auditRetentionDays ?? 0,
            exportDir: config.auditExportDir ?? `${config.home}/audit-archive`,
          },
        }),
      inject: [CONFIG, DATABASE],
    },
    { provide: AuditService, useFactory: (log: AuditLog) => log.service, inject: [AUDIT_LOG] },
    { provide: AUDIT_PRINCIPAL, useValue: authPrincipal },
    {
      provide: AUDIT_ENABLED,
      useFactory: (config: CorralConfig) => config.auditEnabled !== false,
      inject: [CONFIG],
    },
    AuditInterceptor,
    { provide: APP_INTERCEPTOR, useExisting: AuditInterceptor },
  ],
  exports: [AuditService, AuditInterceptor, AUDIT_LOG],
})
export class AuditModule implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(AUDIT_LOG) private readonly log: AuditLog,
    private readonly interceptor: AuditInterceptor,
    @Inject(AUDIT_ENABLED) private readonly enabled: boolean,
    @Optional() private readonly runs?: RunObservers,
  ) {}

  onModuleInit(): void {
    if (this.enabled) this.runs?.add(new AuditRunObserver(this.log.service, this.interceptor));
  }

  /** Flushes what was recorded and lets the appender finish its batch. */
  async onModuleDestroy(): Promise<void> {
    await this.log.close();
  }
}
