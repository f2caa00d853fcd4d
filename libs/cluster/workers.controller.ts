import { Controller, Get, Inject, Module, type DynamicModule } from '@nestjs/common';
import { AdminDoc, CurrentPrincipal, Scopes, type Principal } from '@corral/auth';
import { CorralError } from '@corral/common';
import type { WorkersSnapshot } from './cluster-view';

export const WORKERS_SNAPSHOT = Symbol('WorkersSnapshot');

/**
 * GET /admin/v1/workers: every worker of the deployment, its host, PID, memory, loaded models and
 * queue depth. That is the deployment's, not a team's: admins and auditors (the read-only global
 * role) see it; a team owner, whose `admin` scope covers only its own teams, gets 403.
 */
@Controller('admin/v1/workers')
@Scopes('admin')
export class WorkersController {
  constructor(@Inject(WORKERS_SNAPSHOT) private readonly snapshot: WorkersSnapshot) {}

  @Get()
  @AdminDoc({ summary: 'Workers: host, PID, memory, loaded models, queue depth (admins, auditors)' })
  list(@CurrentPrincipal() p: Principal) {
    if (p.globalRole !== 'admin' && p.globalRole !== 'auditor')
      throw new CorralError('forbidden', 'the worker list is for admins and auditors');
    return { mode: this.snapshot.mode, workers: this.snapshot.workers() };
  }
}

@Module({})
export class ClusterAdminModule {
  static with(snapshot: WorkersSnapshot): DynamicModule {
    return {
      module: ClusterAdminModule,
      controllers: [WorkersController],
      providers: [{ provide: WORKERS_SNAPSHOT, useValue: snapshot }],
    };
  }
}
