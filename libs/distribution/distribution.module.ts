import { Module } from '@nestjs/common';
import { PullPushController } from './pull-push.controller';
import { RegistryApiController } from './registry-api/registry-api.controller';
import { UploadsController } from './registry-api/uploads.controller';

/** Model distribution: this node's registry API (/v2) and pull/push from other nodes (/api/pull, /api/push). */
@Module({
  controllers: [RegistryApiController, UploadsController, PullPushController],
})
export class DistributionModule {}
