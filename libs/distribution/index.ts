export { DistributionModule } from './distribution.module';
// The client has its own entry (@corral/distribution-client); the gateway takes it from here too.
export { parseRange, type RangeResult } from './oci-api/range';
export { OciError, ociBody, type OciErrorCode } from './oci-api/oci-errors';
