/**
 * `corral create NAME [-f Modelfile] [-q Q]`, as Ollama's client does it: the Modelfile is parsed
 * here, the files it names are uploaded as blobs, and /api/create receives names and digests
 * (never paths: the server may be another machine). FROM that names no file is a model name.
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseModelfile, type Modelfile } from '@corral/registry';
import type { CreateRequest, ProgressResponse } from '../api-types';
import type { CorralClient } from '../client';
import type { Progress } from '../progress';
import { collectFiles, ensureBlob, hashFiles, type HashedFile, type LocalFile } from './blobs';

export interface CreateOptions {
  /** -f: the Modelfile. Defaults to ./Modelfile, and without one to `FROM .` (Ollama's rule). */
  file?: string;
  /** -q/--quantize, e.g. q4_K_M. */
  quantize?: string;
  /** Defaults to process.cwd(). */
  cwd?: string;
  /** Where `~` points. Defaults to the user's home directory. */
  home?: string;
}

export interface ModelfileSource {
  modelfile: Modelfile;
  /** Relative FROM/ADAPTER paths are relative to this folder. */
  dir: string;
  /** True when there was no Modelfile and `FROM .` stands in for one. */
  implicit: boolean;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

export async function readModelfile(file: string | undefined, cwd: string): Promise<ModelfileSource> {
  const path = resolve(cwd, file ?? 'Modelfile');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
    if (file) throw new Error(`specified Modelfile wasn't found: ${path}`);
    return { modelfile: parseModelfile('FROM .\n'), dir: cwd, implicit: true };
  }
  return { modelfile: parseModelfile(text), dir: dirname(path), implicit: false };
}

/** `~` and paths relative to the Modelfile's folder, as Ollama's client expands them. */
export function expandPath(p: string, dir: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return isAbsolute(p) ? p : resolve(dir, p);
}

/** A FROM that is clearly meant as a path: a missing file is then an error, not a model name. */
function looksLikePath(p: string): boolean {
  return /^(\.{1,2}(\/|$)|\/|~)/.test(p) || /\.(gguf|safetensors|bin)$/i.test(p);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    (err) => (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR' ? false : Promise.reject(err)),
  );
}

/** What FROM and ADAPTER resolve to: local files to upload, or the name of an existing model. */
export interface CreatePlan {
  from?: string;
  files: LocalFile[];
  adapters: LocalFile[];
}

export async function planFiles(src: ModelfileSource, home: string): Promise<CreatePlan> {
  const mf = src.modelfile;
  const plan: CreatePlan = { files: [], adapters: [] };
  const fromPath = expandPath(mf.from, src.dir, home);
  if (await exists(fromPath)) {
    plan.files = await collectFiles(fromPath);
    if (src.implicit && !plan.files.some((f) => /\.safetensors$/i.test(f.name))) {
      throw new Error('no Modelfile or safetensors files found');
    }
    if (plan.files.length === 0) throw new Error(`no files found in ${fromPath}`);
  } else if (looksLikePath(mf.from)) {
    throw new Error(`FROM ${mf.from}: no such file or directory (${fromPath})`);
  } else {
    plan.from = mf.from;
  }
  for (const a of mf.adapters) {
    const p = expandPath(a, src.dir, home);
    if (!(await exists(p))) throw new Error(`ADAPTER ${a}: no such file or directory (${p})`);
    plan.adapters.push(...(await collectFiles(p)));
  }
  return plan;
}

const digestMap = (files: HashedFile[]) => Object.fromEntries(files.map((f) => [f.name, f.digest]));

/** The /api/create body: only the fields the Modelfile actually set. */
export function buildCreateRequest(
  name: string,
  mf: Modelfile,
  uploaded: { from?: string; files: HashedFile[]; adapters: HashedFile[] },
  quantize?: string,
): CreateRequest {
  const req: CreateRequest = { model: name };
  if (uploaded.from) req.from = uploaded.from;
  if (uploaded.files.length > 0) req.files = digestMap(uploaded.files);
  if (uploaded.adapters.length > 0) req.adapters = digestMap(uploaded.adapters);
  if (mf.template !== undefined) req.template = mf.template;
  if (mf.system !== undefined) req.system = mf.system;
  if (Object.keys(mf.parameters).length > 0) req.parameters = mf.parameters;
  if (mf.messages.length > 0) req.messages = mf.messages;
  if (mf.license.length > 0) req.license = mf.license;
  if (quantize) req.quantize = quantize;
  req.stream = true;
  return req;
}

/** Draws one /api/create progress line the way Ollama's client does. */
export function renderCreateProgress(progress: Progress, resp: ProgressResponse): void {
  if (resp.digest && resp.total) {
    progress.bar(
      resp.digest,
      `pulling ${resp.digest.replace(/^sha256:/, '').slice(0, 12)}...`,
      resp.total,
      resp.completed ?? 0,
    );
  } else if (resp.status) {
    progress.status(resp.status);
  }
}

export async function createCommand(
  client: CorralClient,
  name: string,
  opts: CreateOptions,
  progress: Progress,
): Promise<void> {
  try {
    const src = await readModelfile(opts.file, opts.cwd ?? process.cwd());
    progress.status('gathering model components');
    const plan = await planFiles(src, opts.home ?? homedir());
    const files = await hashFiles(plan.files, progress);
    const adapters = await hashFiles(plan.adapters, progress);
    for (const f of [...files, ...adapters]) await ensureBlob(client, f, progress);
    const req = buildCreateRequest(name, src.modelfile, { from: plan.from, files, adapters }, opts.quantize);
    let last = 'gathering model components';
    for await (const resp of client.create(req)) {
      // The server repeats its opening status; a repeated status is not a new step.
      if (!resp.digest && resp.status === last) continue;
      last = resp.status;
      renderCreateProgress(progress, resp);
    }
  } finally {
    progress.stop();
  }
}
