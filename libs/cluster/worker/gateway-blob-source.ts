/**
 * Models over HTTP: a worker without the gateway's models directory fetches a blob it lacks from a
 * gateway's OCI blob API (`GET /v2/<namespace>/<model>/blobs/<digest>`, the same API `corral pull`
 * reads) into its own models directory, then loads it from there. The transfer is the pull client's:
 * ranged parts several at once into `<models>/partial/`, resumed after an interruption (the progress
 * is kept beside the partial file), and linked into `<models>/blobs/` only once the whole file hashes
 * to its digest. A blob already in the directory (shared, or fetched before) is used as it is.
 */
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { BlobStore, DEFAULT_HOST, normalizeDigest, parseModelName } from '@corral/registry';
import { downloadBlob, RegistryClient } from '@corral/distribution-client';
import { digestsIn, type BlobRef, type BlobSource } from './blob-source';

export interface GatewayBlobSourceOptions {
  /** Where fetched blobs go (the worker's models directory: `blobs/`, `partial/`). */
  modelsDir: string;
  /** `http(s)://host:port` of a gateway (or a load balancer in front of several). */
  gateway: string;
  /** API key with scope models:read, allowed the models this worker serves. */
  key?: string;
  /** Ranged requests in flight per blob (default 4). */
  concurrency?: number;
  /** Bytes per ranged part (default 64 MiB). */
  partSize?: number;
  log?: (line: string) => void;
}

export class GatewayBlobSource implements BlobSource {
  private readonly store: BlobStore;
  private readonly client: RegistryClient;
  /** Fetches in progress: two jobs for one blob share one transfer (and one partial file). */
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly opts: GatewayBlobSourceOptions) {
    this.store = new BlobStore(opts.modelsDir);
    this.client = new RegistryClient({ origin: opts.gateway.replace(/\/+$/, ''), key: opts.key });
  }

  get description(): string {
    return `${this.opts.modelsDir}, else gateway ${this.client.origin} over HTTP`;
  }

  /** The blobs already in this worker's own directory (the heartbeat announces them to placement). */
  localDigests(): Promise<string[]> {
    return digestsIn(this.opts.modelsDir);
  }

  async resolve(ref: BlobRef, signal?: AbortSignal): Promise<string> {
    const digest = normalizeDigest(ref.digest);
    if (await this.store.has(digest)) return this.store.path(digest);
    let p = this.inflight.get(digest);
    if (!p) {
      p = this.fetch(ref, digest, signal).finally(() => this.inflight.delete(digest));
      this.inflight.set(digest, p);
    }
    return p;
  }

  private async fetch(ref: BlobRef, digest: string, signal?: AbortSignal): Promise<string> {
    const repository = repositoryOf(ref);
    const size = await this.size(repository, digest, signal);
    const started = Date.now();
    this.opts.log?.(
      `fetching blob ${digest} (${(size / 2 ** 20).toFixed(1)} MiB) of ${ref.model} from ${this.client.origin}`,
    );
    const r = await downloadBlob(this.store, {
      client: this.client,
      repository,
      digest,
      size,
      partialDir: join(this.opts.modelsDir, 'partial'),
      concurrency: this.opts.concurrency,
      partSize: this.opts.partSize,
      signal,
    });
    this.opts.log?.(
      `blob ${digest} verified and stored in ${Date.now() - started} ms` +
        (r.resumed > 0 ? ` (resumed: ${r.resumed} bytes were already here)` : ''),
    );
    return this.store.path(digest);
  }

  /** The blob's size, from a HEAD on the gateway (the ranged download needs it up front). */
  private async size(repository: string, digest: string, signal?: AbortSignal): Promise<number> {
    const res = await this.client.fetch(this.client.repoUrl(repository, `blobs/${digest}`), {
      method: 'HEAD',
      signal,
    });
    // A HEAD answer has no body to explain itself: say what the status means here.
    if (res.status === 401 || res.status === 403)
      throw new CorralError(
        'forbidden',
        `gateway ${this.client.origin} refused blob ${digest} of ${repository} (${res.status}): ` +
          `CORRAL_WORKER_KEY must be a valid key with scope models:read that may use this model`,
      );
    if (res.status === 404)
      throw new CorralError(
        'model_not_found',
        `gateway ${this.client.origin} has no blob ${digest} for ${repository} (404)`,
      );
    if (!res.ok) await this.client.fail(res, `blob ${digest} of ${repository}`);
    const size = Number(res.headers.get('content-length'));
    if (!Number.isSafeInteger(size) || size < 0)
      throw new CorralError('bad_request', `gateway ${this.client.origin} sent no size for blob ${digest}`);
    return size;
  }
}

/** `tiny:latest` → `library/tiny`; a gateway's /v2 serves only its own (default-host) names. */
function repositoryOf(ref: BlobRef): string {
  if (!ref.model) throw new CorralError('bad_request', `no model name to fetch blob ${ref.digest} through`);
  const name = parseModelName(ref.model);
  if (name.host.toLowerCase() !== DEFAULT_HOST)
    throw new CorralError(
      'bad_request',
      `model '${ref.model}' was pulled from ${name.host}; a gateway serves over /v2 only the models ` +
        `created or pushed on it, so this worker needs the blob in its models directory`,
    );
  return `${name.namespace}/${name.model}`;
}
