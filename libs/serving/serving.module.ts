import { Module } from '@nestjs/common';
import { MeteringService } from './metering';
import { RunService } from './run.service';

/**
 * The serving layer for Nest: one RunService and one MeteringService for every dialect (and for the
 * gateway's PinKeeper, through `app.get(RunService)`). Needs CONFIG, REGISTRY and SCHEDULER from the
 * gateway's core module; QUOTA_GATE and RunObservers when the gateway provides them.
 */
@Module({
  providers: [RunService, MeteringService],
  exports: [RunService, MeteringService],
})
export class ServingModule {}
