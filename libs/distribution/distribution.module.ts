import { Module } from '@nestjs/common';
import { PullPushController } from './pull-push.controller';
import { OciApiController } from './oci-api/oci-api.controller';
import { UploadsController } from './oci-api/uploads.controller';

/** Model distribution: this node's registry API (/v2) and pull/push from other nodes (/api/pull, /api/push). */
@Module({
  controllers: [OciApiController, UploadsController, PullPushController],
})
export class DistributionModule {}
