/**
 * Server-side paths in /api/create (the legacy `path` field, `FROM <path>` and `ADAPTER <path>` in
 * Modelfile text). An API caller is not the operator of the gateway's host: by default every such
 * path is refused, before the file system is touched, so neither the gateway's secrets nor the
 * existence of its files can be learnt through create. An operator may name import directories
 * (CORRAL_IMPORT_DIRS); a path is then accepted only when its real path (symlinks and `..`
 * resolved) lies inside one of them. Missing and forbidden paths get one message, so the answer
 * says nothing about the file system outside those directories.
 */
import { constants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { CorralError } from '@corral/common';

/** Largest Modelfile the `path` field may name. */
export const MAX_MODELFILE_BYTES = 1024 * 1024;

const UPLOAD_HINT =
  "upload each file with POST /api/blobs/sha256:<hex> (HEAD first to skip what is there) and name it by digest in 'files' (LoRA adapters in 'adapters'), as Ollama's client does";

/** Which part of the request named a server path; it shapes the message and the OpenAI `param`. */
export type ServerPathField = 'path' | 'FROM' | 'ADAPTER';

/**
 * A FROM that means a file rather than a model name: absolute, `./`, `../`, `~`, a Windows-style
 * path, or a weights file name. Decided from the text alone, never by looking at the disk.
 */
export function looksLikeServerPath(p: string): boolean {
  return (
    /^(\.{1,2}([/\\]|$)|[/\\]|~|[A-Za-z]:[/\\])/.test(p) ||
    p.includes('\\') ||
    /(^|\/)\.\.(\/|$)/.test(p) ||
    /\.(gguf|safetensors|bin)$/i.test(p)
  );
}

export function serverPathRefused(field: ServerPathField, importDirs: readonly string[]): CorralError {
  const what =
    field === 'path' ? "'path' names a Modelfile on the server" : `${field} names a path on the server`;
  const why = importDirs.length
    ? 'that is not a file inside the import directories (CORRAL_IMPORT_DIRS) or does not exist'
    : 'and this gateway does not read server paths in create requests';
  return new CorralError(
    'bad_request',
    `${what} ${why}: ${UPLOAD_HINT}`,
    field === 'path' ? 'path' : 'modelfile',
  );
}

/** The real paths of the import directories that exist (an absent one admits nothing). */
export async function realImportDirs(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of dirs) {
    const real = await fs.realpath(path.resolve(d)).catch(() => undefined);
    if (real) out.push(real);
  }
  return out;
}

function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The real path of `p` when it is inside one of `realDirs` and of the wanted kind; otherwise the
 * refusal (the same one whether the path is missing, outside, or of another kind).
 */
export async function admitServerPath(
  p: string,
  field: ServerPathField,
  realDirs: readonly string[],
  kinds: { file?: boolean; dir?: boolean },
): Promise<{ real: string; isDir: boolean }> {
  const refused = () => serverPathRefused(field, realDirs);
  if (!realDirs.length) throw refused();
  const real = await fs.realpath(p).catch(() => undefined);
  if (!real || !realDirs.some((d) => inside(d, real))) throw refused();
  const st = await fs.stat(real).catch(() => undefined);
  if (st?.isFile() && kinds.file) return { real, isDir: false };
  if (st?.isDirectory() && kinds.dir) return { real, isDir: true };
  throw refused();
}

/**
 * Reads an admitted Modelfile: a regular file of at most MAX_MODELFILE_BYTES. Opened without
 * following a final symlink and without blocking (a FIFO swapped in after the check is refused,
 * not waited on); the size is checked on the open file, and reading stops at the cap.
 */
export async function readAdmittedModelfile(real: string, realDirs: readonly string[]): Promise<string> {
  const refused = () => serverPathRefused('path', realDirs);
  const fh = await fs
    .open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    .catch(() => undefined);
  if (!fh) throw refused();
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refused();
    if (st.size > MAX_MODELFILE_BYTES) {
      throw new CorralError(
        'bad_request',
        `'path': the Modelfile is larger than ${MAX_MODELFILE_BYTES} bytes`,
        'path',
      );
    }
    const buf = Buffer.alloc(MAX_MODELFILE_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > MAX_MODELFILE_BYTES) {
      throw new CorralError(
        'bad_request',
        `'path': the Modelfile is larger than ${MAX_MODELFILE_BYTES} bytes`,
        'path',
      );
    }
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}
