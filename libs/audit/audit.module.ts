import { Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import type { CorralConfig } from '@corral/config';
import type { Database } from '@corral/persistence';
import { CONFIG, DATABASE } from '@corral/serving';
import { authPrincipal } from './access';
import { openAuditLog, type AuditLog } from './audit-log';
import { AuditController } from './audit.controller';
import { AUDIT_PRINCIPAL, AuditInterceptor } from './interceptor';
import { AuditService } from './service';
import { AUDIT_LOG } from './tokens';

/**
 * The audit log in the gateway: opens it at boot (key, buffer, appender), serves
 * `/admin/v1/audit`, and provides `AuditService` and `AuditInterceptor` to other modules. Needs
 * CONFIG and DATABASE from the core module and the AuthModule's global guard.
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
          redisUrl: config.redisUrl,
        }),
      inject: [CONFIG, DATABASE],
    },
    { provide: AuditService, useFactory: (log: AuditLog) => log.service, inject: [AUDIT_LOG] },
    { provide: AUDIT_PRINCIPAL, useValue: authPrincipal },
    AuditInterceptor,
  ],
  exports: [AuditService, AuditInterceptor, AUDIT_LOG],
})
export class AuditModule implements OnModuleDestroy {
  constructor(@Inject(AUDIT_LOG) private readonly log: AuditLog) {}

  /** Flushes what was recorded and lets the appender finish its batch. */
  async onModuleDestroy(): Promise<void> {
    await this.log.close();
  }
}
