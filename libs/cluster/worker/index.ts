/**
 * The worker side of cluster mode (`corral worker`): the agent that runs jobs from Redis on an
 * inference host, and the blob sources it reads model files through. Its own entry
 * (`@corral/cluster-worker`) so a worker loads none of the gateway's side (the admin controller and
 * its auth dependencies).
 */
export { WorkerAgent, type WorkerAgentOptions, type InferenceHost } from './worker-agent';
export {
  SharedDirectoryBlobSource,
  digestOfPath,
  digestsIn,
  type BlobRef,
  type BlobSource,
} from './blob-source';
export { GatewayBlobSource, type GatewayBlobSourceOptions } from './gateway-blob-source';
