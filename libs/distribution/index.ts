export { DistributionModule } from './distribution.module';
// The client has its own entry (@corral/distribution-client); the gateway takes it from here too.
export * from './client';
export { parseRange, type RangeResult } from './registry-api/range';
export { OciError, ociBody, type OciErrorCode } from './registry-api/oci-errors';
