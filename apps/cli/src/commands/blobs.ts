/**
 * The file half of `corral create`: find the files a FROM/ADAPTER path names, hash them, and
 * upload the ones the server lacks (HEAD, then a streamed POST), as Ollama's client does. Files
 * are read as streams throughout: GGUF and Safetensors files run to tens of gigabytes.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import type { CorralClient } from '../client';
import type { Progress } from '../progress';

/** A file to send, under the name the create request lists it by. */
export interface LocalFile {
  name: string;
  path: string;
  size: number;
}

export interface HashedFile extends LocalFile {
  digest: string;
}

// Below this, hashing takes less time than drawing a bar for it would be worth.
const BAR_THRESHOLD = 64 * 1024 * 1024;

/**
 * The files under a path: the file itself (by its base name), or every regular file in a
 * directory tree (by relative path, "/"-separated), hidden entries skipped.
 */
export async function collectFiles(path: string): Promise<LocalFile[]> {
  const st = await stat(path);
  if (st.isFile()) return [{ name: basename(path), path, size: st.size }];
  if (!st.isDirectory()) throw new Error(`${path} is not a file or directory`);
  const out: LocalFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() || e.isSymbolicLink()) {
        const s = await stat(full).catch(() => undefined);
        if (s?.isFile())
          out.push({ name: relative(path, full).split(sep).join('/'), path: full, size: s.size });
      }
    }
  };
  await walk(path);
  return out;
}

/** Streams a file through SHA-256; returns "sha256:<hex>". */
export async function sha256File(path: string, onBytes?: (done: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let done = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onBytes?.(done);
  }
  return `sha256:${hash.digest('hex')}`;
}

export async function hashFiles(files: LocalFile[], progress: Progress): Promise<HashedFile[]> {
  const out: HashedFile[] = [];
  for (const f of files) {
    const key = `hash:${f.path}`;
    const big = f.size >= BAR_THRESHOLD;
    let shown = -1;
    const digest = await sha256File(f.path, (done) => {
      const pct = Math.floor((done / f.size) * 100);
      if (!big || pct === shown) return;
      shown = pct;
      progress.bar(key, `hashing ${f.name}`, f.size, done);
    });
    out.push({ ...f, digest });
  }
  return out;
}

/** Reads a file as chunks, counting bytes as they are handed to the upload. */
async function* counted(path: string, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    n += (chunk as Buffer).length;
    onBytes(n);
    yield chunk as Buffer;
  }
}

/**
 * Makes sure the server holds the blob: HEAD first, POST only when missing. Shows Ollama's
 * "copying file sha256:... N%" line either way (100% at once when it was already there).
 */
export async function ensureBlob(client: CorralClient, file: HashedFile, progress: Progress): Promise<void> {
  const key = `copy:${file.digest}`;
  const line = (pct: number) => `copying file ${file.digest} ${pct}%`;
  progress.status(line(0), key);
  if (!(await client.blobExists(file.digest))) {
    let shown = 0;
    await client.uploadBlob(
      file.digest,
      counted(file.path, (n) => {
        const pct = file.size > 0 ? Math.floor((n / file.size) * 100) : 100;
        if (pct !== shown && pct < 100) {
          shown = pct;
          progress.update(key, line(pct));
        }
      }),
      file.size,
    );
  }
  progress.update(key, line(100));
}
