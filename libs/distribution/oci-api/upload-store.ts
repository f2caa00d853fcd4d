/**
 * Push upload sessions on disk: `<modelsDir>/uploads/<uuid>` grows with each PATCH and becomes a
 * blob only when the final PUT's digest matches its content (BlobStore.adoptFile). A session left
 * idle longer than `maxIdleMs` is deleted by sweep(), which the module runs at boot and periodically.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isNotFound, type BlobLease, type BlobStore, type PutResult } from '@corral/registry';
import { OciError } from './oci-errors';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Idle time after which an upload session is abandoned. */
export const UPLOAD_MAX_IDLE_MS = 60 * 60 * 1000;

export class UploadStore {
  readonly dir: string;
  /** Appends to one session run one at a time. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(modelsDir: string) {
    this.dir = path.join(modelsDir, 'uploads');
  }

  async create(): Promise<string> {
    await fs.mkdir(this.dir, { recursive: true });
    const id = randomUUID();
    await fs.writeFile(this.file(id), new Uint8Array(0), { flag: 'wx' });
    return id;
  }

  /** Bytes received so far; throws BLOB_UPLOAD_UNKNOWN for an unknown session. */
  async size(id: string): Promise<number> {
    try {
      return (await fs.stat(this.file(id))).size;
    } catch (e) {
      if (isNotFound(e)) throw unknown(id);
      throw e;
    }
  }

  /**
   * Appends a request body. `start` (from Content-Range) must equal the bytes already received,
   * else 416: chunks are taken in order only.
   */
  append(id: string, body: Readable, start?: number): Promise<number> {
    return this.serial(id, async () => {
      const have = await this.size(id);
      if (start !== undefined && start !== have) {
        body.resume();
        throw new OciError(
          416,
          'BLOB_UPLOAD_INVALID',
          `chunk starts at ${start}, but ${have} bytes were received`,
        );
      }
      await pipeline(body, createWriteStream(this.file(id), { flags: 'a' }));
      return this.size(id);
    });
  }

  /** Verifies the session against `digest` and links it into the store; a mismatch deletes it. */
  finish(id: string, digest: string, blobs: BlobStore, lease?: BlobLease): Promise<PutResult> {
    return this.serial(id, async () => {
      await this.size(id);
      try {
        return await blobs.adoptFile(this.file(id), digest, { lease });
      } catch (e) {
        await this.cancel(id);
        throw e;
      }
    });
  }

  async cancel(id: string): Promise<void> {
    await fs.rm(this.file(id), { force: true });
  }

  /** Deletes sessions idle longer than `maxIdleMs`. Returns how many. */
  async sweep(maxIdleMs = UPLOAD_MAX_IDLE_MS): Promise<number> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      if (!UUID_RE.test(name) || this.busy.has(name)) continue;
      const st = await fs.stat(path.join(this.dir, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > maxIdleMs) {
        await fs.rm(path.join(this.dir, name), { force: true });
        removed++;
      }
    }
    return removed;
  }

  private file(id: string): string {
    if (!UUID_RE.test(id)) throw unknown(id);
    return path.join(this.dir, id);
  }

  private async serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    for (let p = this.busy.get(id); p; p = this.busy.get(id)) await p.catch(() => undefined);
    const run = fn();
    this.busy.set(id, run);
    try {
      return await run;
    } finally {
      if (this.busy.get(id) === run) this.busy.delete(id);
    }
  }
}

function unknown(id: string): OciError {
  return new OciError(404, 'BLOB_UPLOAD_UNKNOWN', `upload session unknown: ${id.slice(0, 64)}`);
}
