/**
 * How a remote worker gets a model's files. The gateway names files by the path it sees in its own
 * models directory (`<models>/blobs/sha256-<hex>`); the worker turns that into a local file through
 * a BlobSource: the worker's models directory (shared with the gateways, or its own cache), and,
 * when a gateway URL is configured, that gateway's OCI blob API for blobs the directory lacks
 * (`GatewayBlobSource`, libs/cluster/worker/gateway-blob-source.ts).
 */
import { access, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

export interface BlobRef {
  /** `sha256:<hex>` */
  digest: string;
  /** The path on the gateway that sent the job (for messages). */
  gatewayPath: string;
  /** The model the job names (e.g. `tiny:latest`): the gateway serves a blob only through a model that references it. */
  model?: string;
}

export interface BlobSource {
  readonly description: string;
  /** A local path holding the blob's bytes, fetching them first where the source must. */
  resolve(ref: BlobRef, signal?: AbortSignal): Promise<string>;
  /**
   * Digests this worker holds locally, announced in its heartbeat so placement prefers a worker
   * that need not fetch the model. Absent where every worker sees the same files (a shared directory).
   */
  localDigests?(): Promise<string[]>;
}

/** The `sha256:<hex>` digests in a models directory's blob store. */
export async function digestsIn(modelsDir: string): Promise<string[]> {
  const names = await readdir(join(modelsDir, 'blobs')).catch(() => [] as string[]);
  return names.flatMap((n) => digestOfPath(n) ?? []);
}

/** `.../blobs/sha256-<hex>` → `sha256:<hex>`; undefined for a path outside a blob store. */
export function digestOfPath(path: string): string | undefined {
  const m = /^sha256[-:]([0-9a-f]{64})$/.exec(basename(path));
  return m ? `sha256:${m[1]}` : undefined;
}

/** The models directory shared by every host (NFS, a cluster file system, a read-only volume). */
export class SharedDirectoryBlobSource implements BlobSource {
  constructor(private readonly modelsDir: string) {}

  get description(): string {
    return `shared directory ${this.modelsDir}`;
  }

  async resolve(ref: BlobRef): Promise<string> {
    const local = join(this.modelsDir, 'blobs', ref.digest.replace(':', '-'));
    try {
      await access(local);
    } catch {
      throw new Error(
        `blob ${ref.digest} is not in this worker's models directory ${this.modelsDir} ` +
          `(mount the gateway's OLLAMA_MODELS there)`,
      );
    }
    return local;
  }
}
