export { DistributionModule } from './distribution.module';
export { RegistryClient, MAX_MANIFEST_BYTES, type RegistryRequest } from './client/registry-client';
export { resolveSource, matchSource, splitHost, type ResolvedSource } from './client/sources';
export {
  downloadBlob,
  fetchToPartial,
  commitPartial,
  discardPartial,
  sweepPartials,
  partialPaths,
  type BlobDownload,
  type FetchResult,
} from './client/downloader';
export { pullModel, partialDir, type PullOptions } from './client/pull';
export { pushModel, uploadBlob, type PushOptions } from './client/push';
export { shortDigest, type ProgressMessage, type ProgressFn } from './client/progress';
export { parseRange, type RangeResult } from './registry-api/range';
export { OciError, ociBody, type OciErrorCode } from './registry-api/oci-errors';
