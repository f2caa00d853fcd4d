import { Controller, Get, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Scopes } from '@corral/auth';
import type { WorkersSnapshot } from './cluster-view';

export const WORKERS_SNAPSHOT = Symbol('WorkersSnapshot');

/** GET /admin/v1/workers: every worker of the deployment, its memory, loaded models and queue depth. */
@Controller('admin/v1/workers')
@Scopes('admin')
export class WorkersController {
  constructor(@Inject(WORKERS_SNAPSHOT) private readonly snapshot: WorkersSnapshot) {}

  @Get()
  list() {
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
