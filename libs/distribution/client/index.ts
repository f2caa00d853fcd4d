/**
 * The registry client: pull and push against OCI registries, and the resumable blob downloader they
 * share. Its own entry (`@corral/distribution-client`) so a cluster worker, which fetches blobs from
 * a gateway with it, does not load the gateway's registry API controllers.
 */
export { RegistryClient, MAX_MANIFEST_BYTES, type RegistryRequest } from './registry-client';
export { resolveSource, matchSource, splitHost, type ResolvedSource } from './sources';
export {
  downloadBlob,
  fetchToPartial,
  commitPartial,
  discardPartial,
  sweepPartials,
  partialPaths,
  type BlobDownload,
  type FetchResult,
} from './downloader';
export { pullModel, partialDir, type PullOptions } from './pull';
export { pushModel, uploadBlob, type PushOptions } from './push';
export { shortDigest, type ProgressMessage, type ProgressFn } from './progress';
