/**
 * Resumable, parallel, verified blob downloads. A blob is fetched in ranged parts, several at once,
 * into a partial file under `<modelsDir>/partial/` whose per-part progress is saved beside it
 * (`sha256-<hex>.json`); an interrupted download continues where each part stopped. Nothing enters
 * the blob store until the whole file hashes to its digest.
 *
 * Reusable outside pull: `downloadBlob()` is the one call a node needs to fetch a blob from any
 * registry (or gateway) speaking the OCI blob API, e.g. a cluster worker fetching a model it lacks.
 */
import {
  open,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import * as path from 'node:path';
import { CorralError } from '@corral/common';
import { normalizeDigest, type BlobLease, type BlobStore, type PutResult } from '@corral/registry';
import type { RegistryClient } from './registry-client';

/** Where to fetch one blob and how. */
export interface BlobDownload {
  client: RegistryClient;
  /** `namespace/model` on the registry. */
  repository: string;
  digest: string;
  /** Size the manifest claims; the download refuses a source that sends more. */
  size: number;
  /** Directory for partial files; must be on the blob store's filesystem. */
  partialDir: string;
  /** Ranged requests in flight at once. Defaults to 4. */
  concurrency?: number;
  /** Bytes per part. Defaults to 64 MiB. */
  partSize?: number;
  signal?: AbortSignal;
  /** Bytes on disk so far (resumed bytes count from the start). */
  onProgress?: (completed: number) => void;
}

export interface FetchResult {
  /** The finished (unverified) partial file. */
  file: string;
  /** Bytes that were already on disk from an earlier attempt. */
  resumed: number;
  /** Bytes fetched by this call. */
  fetched: number;
}

interface Part {
  offset: number;
  size: number;
  completed: number;
}

interface PartialState {
  digest: string;
  size: number;
  parts: Part[];
}

const DEFAULT_PART_SIZE = 64 * 1024 * 1024;
const RETRIES = 2;
const SAVE_EVERY_MS = 200;

/** Paths of a blob's partial data and progress files. */
export function partialPaths(partialDir: string, digest: string): { data: string; state: string } {
  const base = path.join(partialDir, normalizeDigest(digest).replace(':', '-'));
  return { data: `${base}.partial`, state: `${base}.json` };
}

/**
 * Fetches a blob into its partial file, resuming an earlier attempt. Does not verify: call
 * `commitPartial` (or use `downloadBlob`, which does both).
 */
export async function fetchToPartial(d: BlobDownload): Promise<FetchResult> {
  const digest = normalizeDigest(d.digest);
  await mkdir(d.partialDir, { recursive: true });
  const files = partialPaths(d.partialDir, digest);
  const state = (await loadState(files, digest, d.size)) ?? newState(digest, d.size, d.partSize);
  const resumed = state.parts.reduce((n, p) => n + p.completed, 0);
  let fetched = 0;
  const handle = await open(files.data, resumed > 0 || d.size === 0 ? 'r+' : 'w+').catch(async () =>
    open(files.data, 'w+'),
  );
  let lastSave = 0;
  let saving: Promise<void> = Promise.resolve();
  // A save skipped by the throttle is made up by this timer, so the progress on disk is never more
  // than SAVE_EVERY_MS behind, even when the bytes stop coming (a stalled link, then a crash).
  let trailing: NodeJS.Timeout | undefined;
  const save = (force = false): Promise<void> => {
    const now = Date.now();
    if (!force && now - lastSave < SAVE_EVERY_MS) {
      trailing ??= setTimeout(
        () => {
          trailing = undefined;
          save().catch(() => undefined);
        },
        SAVE_EVERY_MS - (now - lastSave),
      );
      return saving;
    }
    if (trailing) clearTimeout(trailing);
    trailing = undefined;
    lastSave = now;
    // Saves run one after another; each writes a snapshot taken after the bytes it claims were written.
    const snapshot = JSON.stringify(state);
    const next = saving.then(() => writeState(files.state, snapshot));
    // A failed save costs only resumability; later saves still run.
    saving = next.catch(() => undefined);
    return next;
  };
  const report = () => d.onProgress?.(state.parts.reduce((n, p) => n + p.completed, 0));
  try {
    if (resumed === 0) await handle.truncate(d.size);
    await save(true);
    report();
    const queue = state.parts.filter((p) => p.completed < p.size);
    // The first part that fails stops the others; its error is the one reported.
    const stop = new AbortController();
    const job = { ...d, signal: d.signal ? AbortSignal.any([d.signal, stop.signal]) : stop.signal };
    let firstError: { e: unknown } | undefined;
    const workers = Array.from(
      { length: Math.min(d.concurrency ?? 4, Math.max(queue.length, 1)) },
      async () => {
        try {
          for (let part = queue.shift(); part; part = queue.shift()) {
            await fetchPart(job, digest, handle, part, (n) => {
              fetched += n;
              save().catch(() => undefined);
              report();
            });
          }
        } catch (e) {
          firstError ??= { e };
          stop.abort();
        }
      },
    );
    await Promise.all(workers);
    if (firstError) throw firstError.e;
    await handle.sync();
  } finally {
    if (trailing) clearTimeout(trailing);
    trailing = undefined;
    await handle.close().catch(() => undefined);
    await save(true).catch(() => undefined);
  }
  return { file: files.data, resumed, fetched };
}

/**
 * Verifies a finished partial against its digest and links it into the blob store. On a mismatch
 * the partial and its progress are deleted (a re-run starts clean) and `digest_mismatch` is thrown;
 * nothing is linked.
 */
export async function commitPartial(
  blobs: BlobStore,
  partialDir: string,
  digest: string,
  opts: { lease?: BlobLease; signal?: AbortSignal } = {},
): Promise<PutResult> {
  const files = partialPaths(partialDir, digest);
  try {
    const result = await blobs.adoptFile(files.data, digest, opts);
    await rm(files.state, { force: true });
    return result;
  } catch (e) {
    if (e instanceof CorralError && e.code === 'digest_mismatch') {
      await discardPartial(partialDir, digest);
      throw new CorralError(
        'digest_mismatch',
        `blob ${normalizeDigest(digest)} failed verification (${e.message}); it was discarded and nothing was stored`,
      );
    }
    throw e;
  }
}

/** Fetches, verifies and links one blob; resumes an earlier interrupted attempt. */
export async function downloadBlob(
  blobs: BlobStore,
  d: BlobDownload & { lease?: BlobLease },
): Promise<PutResult & FetchResult> {
  const fetched = await fetchToPartial(d);
  const put = await commitPartial(blobs, d.partialDir, d.digest, { lease: d.lease, signal: d.signal });
  return { ...put, ...fetched };
}

/**
 * Deletes partial downloads nobody resumed for `maxAgeMs` (by the time their progress was last
 * saved). Returns how many blobs' partials were removed.
 */
export async function sweepPartials(partialDir: string, maxAgeMs: number): Promise<number> {
  const names = await readdir(partialDir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const m = /^(sha256-[0-9a-f]{64})\.(json|partial)$/.exec(name);
    if (!m) continue;
    const st = await stat(path.join(partialDir, name)).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > maxAgeMs) {
      await rm(path.join(partialDir, name), { force: true });
      if (m[2] === 'partial') removed++;
    }
  }
  return removed;
}

export async function discardPartial(partialDir: string, digest: string): Promise<void> {
  const files = partialPaths(partialDir, digest);
  await rm(files.data, { force: true });
  await rm(files.state, { force: true });
}

async function fetchPart(
  d: BlobDownload,
  digest: string,
  handle: FileHandle,
  part: Part,
  onBytes: (n: number) => void,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchRange(d, digest, handle, part, onBytes);
      return;
    } catch (e) {
      if (d.signal?.aborted || (e instanceof CorralError && e.code !== 'unavailable') || attempt >= RETRIES)
        throw e;
      await new Promise((r) => setTimeout(r, 300 * (attempt + 1)));
    }
  }
}

async function fetchRange(
  d: BlobDownload,
  digest: string,
  handle: FileHandle,
  part: Part,
  onBytes: (n: number) => void,
): Promise<void> {
  const start = part.offset + part.completed;
  const end = part.offset + part.size - 1;
  const res = await d.client.fetch(d.client.repoUrl(d.repository, `blobs/${digest}`), {
    headers: { range: `bytes=${start}-${end}` },
    signal: d.signal,
  });
  if (res.status !== 206) {
    if (!res.ok) await d.client.fail(res, `blob ${digest}`);
    await res.body?.cancel().catch(() => undefined);
    throw new CorralError(
      'bad_request',
      `registry ${d.client.origin} does not serve byte ranges of ${digest}`,
    );
  }
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  if (!range || Number(range[1]) !== start || Number(range[2]) !== end) {
    await res.body?.cancel().catch(() => undefined);
    throw new CorralError('bad_request', `registry ${d.client.origin} sent the wrong range of ${digest}`);
  }
  if (!res.body) throw new CorralError('unavailable', `registry ${d.client.origin} sent an empty body`);
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      const room = part.size - part.completed;
      if (chunk.length > room)
        throw new CorralError(
          'bad_request',
          `registry ${d.client.origin} sent more than the range of ${digest}`,
        );
      await handle.write(chunk, 0, chunk.length, part.offset + part.completed);
      part.completed += chunk.length;
      onBytes(chunk.length);
    }
  } catch (e) {
    if (e instanceof CorralError || d.signal?.aborted) throw e;
    throw new CorralError(
      'unavailable',
      `download of ${digest} from ${d.client.origin} broke off: ${(e as Error).message}`,
    );
  }
  if (part.completed < part.size)
    throw new CorralError('unavailable', `download of ${digest} from ${d.client.origin} ended early`);
}

function newState(digest: string, size: number, partSize = DEFAULT_PART_SIZE): PartialState {
  const parts: Part[] = [];
  for (let offset = 0; offset < size; offset += partSize)
    parts.push({ offset, size: Math.min(partSize, size - offset), completed: 0 });
  return { digest, size, parts };
}

/** The saved progress, if it belongs to this blob and its data file is there; else undefined. */
async function loadState(
  files: { data: string; state: string },
  digest: string,
  size: number,
): Promise<PartialState | undefined> {
  try {
    const s = JSON.parse(await readFile(files.state, 'utf8')) as PartialState;
    const valid =
      s.digest === digest &&
      s.size === size &&
      Array.isArray(s.parts) &&
      s.parts.every(
        (p) =>
          Number.isSafeInteger(p.offset) &&
          Number.isSafeInteger(p.size) &&
          Number.isSafeInteger(p.completed) &&
          p.completed >= 0 &&
          p.completed <= p.size &&
          p.offset + p.size <= size,
      ) &&
      s.parts.reduce((n, p) => n + p.size, 0) === size;
    const st = await open(files.data, 'r').then(async (h) => {
      const stat = await h.stat();
      await h.close();
      return stat;
    });
    return valid && st.size === size ? s : undefined;
  } catch {
    return undefined;
  }
}

async function writeState(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
