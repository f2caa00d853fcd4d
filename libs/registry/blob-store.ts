/**
 * Content-addressed blobs in Ollama's layout: `<modelsDir>/blobs/sha256-<hex>`. Writes go to a temp
 * file in the same directory (so the final rename is atomic and never crosses a filesystem), hashed
 * while they stream, and only a verified file is renamed into place.
 *
 * Leases close the race between a create that reuses a blob and a delete that collects it: a
 * leased digest is never collected, and a lease taken while a removal is in flight waits for it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CorralError } from '@corral/common';

const DIGEST_RE = /^sha256[:-]([0-9a-fA-F]{64})$/;
/** Temp files start with '.' so no Ollama-format reader takes them for a blob or manifest. */
export const TEMP_PREFIX = '.corral-tmp-';
/** A blob being collected (libs/registry/blob-gc.ts): put back, not swept, at start. */
export const TOMB_PREFIX = `${TEMP_PREFIX}gc-`;
/** Temp files of a live process on another host can only be judged by age. Defaults to a day. */
const FOREIGN_TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/**
 * Normalises a digest to `sha256:<lowercase hex>`. Accepts Ollama's file-name form `sha256-<hex>`
 * too, as Ollama's GetBlobsPath does. Throws `bad_request` for anything else.
 */
export function normalizeDigest(digest: unknown): string {
  const m = typeof digest === 'string' ? DIGEST_RE.exec(digest) : null;
  if (!m?.[1]) {
    throw new CorralError(
      'bad_request',
      `invalid digest '${String(digest)}': expected sha256:<64 hex characters>`,
      'digest',
    );
  }
  return `sha256:${m[1].toLowerCase()}`;
}

export function isValidDigest(digest: unknown): boolean {
  return typeof digest === 'string' && DIGEST_RE.test(digest);
}

export interface PutResult {
  digest: string;
  size: number;
  /** False when an identical blob was already there. */
  created: boolean;
}

/** Digests held by one operation; release() when its manifest is written (or it failed). */
export interface BlobLease {
  hold(digest: string): Promise<void>;
  release(): void;
}

export class BlobStore {
  readonly dir: string;
  private readonly pins = new Map<string, number>();
  private readonly removing = new Map<string, Promise<void>>();

  constructor(modelsDir: string) {
    this.dir = path.join(modelsDir, 'blobs');
  }

  /** Creates the directory and sweeps temp files left by crashed writers. */
  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await sweepTempFiles(this.dir);
  }

  path(digest: string): string {
    return path.join(this.dir, normalizeDigest(digest).replace(':', '-'));
  }

  async has(digest: string): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  /** Size in bytes, or undefined when the blob is absent. */
  async size(digest: string): Promise<number | undefined> {
    try {
      const st = await fs.stat(this.path(digest));
      return st.isFile() ? st.size : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Every valid blob digest on disk. */
  async list(): Promise<string[]> {
    const names = await fs.readdir(this.dir).catch((e: unknown) => (isNotFound(e) ? [] : Promise.reject(e)));
    return names.filter((n) => DIGEST_RE.test(n)).map((n) => normalizeDigest(n));
  }

  /**
   * Streams `source` into the store, verifying it hashes to `digest`. On a mismatch or any error
   * the temp file is deleted and nothing is stored.
   */
  async put(
    digest: string,
    source: Readable | AsyncIterable<Uint8Array>,
    opts: PutOptions = {},
  ): Promise<PutResult> {
    const expected = normalizeDigest(digest);
    return this.write(Readable.from(source), opts, expected);
  }

  /** Copies a file on this machine into the store; its digest is computed while copying. */
  async putFile(srcPath: string, opts: PutOptions = {}): Promise<PutResult> {
    return this.write(createReadStream(srcPath), opts);
  }

  /**
   * Moves a finished file (a pull's partial, a push's upload) into the store after hashing it: it
   * is linked only when it hashes to `digest`; on a mismatch it throws `digest_mismatch` and leaves
   * the file where it is for the caller to delete. The file must be on the store's filesystem.
   */
  async adoptFile(file: string, digest: string, opts: PutOptions = {}): Promise<PutResult> {
    const expected = normalizeDigest(digest);
    const hash = createHash('sha256');
    let size = 0;
    const source = createReadStream(file);
    for await (const chunk of source as AsyncIterable<Buffer>) {
      opts.signal?.throwIfAborted();
      hash.update(chunk);
      size += chunk.length;
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== expected)
      throw new CorralError('digest_mismatch', `digest mismatch: expected ${expected}, got ${actual}`);
    await fs.mkdir(this.dir, { recursive: true });
    await opts.lease?.hold(expected);
    if (await this.has(expected)) {
      await fs.rm(file, { force: true });
      return { digest: expected, size, created: false };
    }
    await fs.rename(file, this.path(expected));
    return { digest: expected, size, created: true };
  }

  /** Stores small in-memory content (template, params, config layers). */
  async putBytes(data: string | Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
    return this.write(
      Readable.from([typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)]),
      opts,
    );
  }

  /** Removes a blob unless a lease holds it. Returns whether it was removed. */
  async remove(digest: string): Promise<boolean> {
    const d = normalizeDigest(digest);
    if ((this.pins.get(d) ?? 0) > 0) return false;
    const pending = this.removing.get(d);
    if (pending) {
      await pending;
      return false;
    }
    // Registered synchronously after the pin check, so a lease taken from here on waits for it.
    const op = fs.unlink(this.path(d)).then(
      () => true,
      (e: unknown) => (isNotFound(e) ? false : Promise.reject(e)),
    );
    const settled = op.then(
      () => undefined,
      () => undefined,
    );
    this.removing.set(d, settled);
    try {
      return await op;
    } finally {
      this.removing.delete(d);
    }
  }

  lease(): BlobLease {
    const held: string[] = [];
    let released = false;
    return {
      hold: async (digest: string) => {
        const d = normalizeDigest(digest);
        if (released) throw new Error('blob lease already released');
        held.push(d);
        this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
        await this.removing.get(d);
        // A fresh mtime keeps the blob out of every gateway's collection while it is used here
        // (other gateways on a shared directory cannot see this lease). Best effort: a read-only
        // directory has no collection to fear.
        const now = new Date();
        await fs.utimes(this.path(d), now, now).catch(() => undefined);
      },
      release: () => {
        if (released) return;
        released = true;
        for (const d of held) {
          const n = (this.pins.get(d) ?? 1) - 1;
          if (n <= 0) this.pins.delete(d);
          else this.pins.set(d, n);
        }
      },
    };
  }

  isHeld(digest: string): boolean {
    return (this.pins.get(normalizeDigest(digest)) ?? 0) > 0;
  }

  private async write(source: Readable, opts: PutOptions, expected?: string): Promise<PutResult> {
    await fs.mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, tempName());
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      const sink = createWriteStream(tmp, { flags: 'wx', mode: 0o644 });
      if (opts.signal) await pipeline(source, tap, sink, { signal: opts.signal });
      else await pipeline(source, tap, sink);
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected && digest !== expected) {
        throw new CorralError('digest_mismatch', `digest mismatch: expected ${expected}, got ${digest}`);
      }
      // Held before the existence check so a concurrent collection cannot slip in between.
      await opts.lease?.hold(digest);
      const finalPath = this.path(digest);
      if (await this.has(digest)) {
        await fs.rm(tmp, { force: true });
        return { digest, size, created: false };
      }
      await fs.rename(tmp, finalPath);
      return { digest, size, created: true };
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      source.destroy();
      throw e;
    }
  }
}

export interface PutOptions {
  /** Holds the stored digest so no concurrent delete collects it before a manifest refers to it. */
  lease?: BlobLease;
  /** Aborts the copy; the temp file is removed. */
  signal?: AbortSignal;
}

/** Temp name: host and pid let a later start tell a dead writer's file from a live one's. */
export function tempName(): string {
  return `${TEMP_PREFIX}${hostname()}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Deletes temp files whose writer is gone: same host and the pid is dead, or older than a day.
 * Directories shared by several gateway replicas must not lose a live replica's in-flight upload.
 */
export async function sweepTempFiles(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if (isNotFound(e)) return 0;
    throw e;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX) || name.startsWith(TOMB_PREFIX)) continue;
    const file = path.join(dir, name);
    if (await isStaleTemp(file, name.slice(TEMP_PREFIX.length))) {
      await fs.rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}

async function isStaleTemp(file: string, rest: string): Promise<boolean> {
  const m = /^(.*)-(\d+)-[0-9a-f]+$/.exec(rest);
  if (m?.[1] === hostname() && m[2] !== undefined) {
    const pid = Number(m[2]);
    if (pid !== process.pid && !isAlive(pid)) return true;
  }
  const st = await fs.stat(file).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > FOREIGN_TEMP_MAX_AGE_MS;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
