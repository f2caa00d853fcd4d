/**
 * Manifests in Ollama's layout: `<modelsDir>/manifests/<host>/<namespace>/<model>/<tag>`, Docker
 * image manifest v2 JSON whose layers carry Ollama's media types. A real Ollama models directory is
 * read as-is, and what Corral writes is what Ollama writes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import type { Stats } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { CorralError } from '@corral/common';
import { isNotFound, sweepTempFiles, TEMP_PREFIX, tempName } from './blob-store';
import { ModelName, nameFromPathParts, namePathParts, shortModelName } from './names';

export const MEDIA_TYPES = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  model: 'application/vnd.ollama.image.model',
  adapter: 'application/vnd.ollama.image.adapter',
  projector: 'application/vnd.ollama.image.projector',
  template: 'application/vnd.ollama.image.template',
  /** Pre-0.1 name of the template layer; still found in old model directories. */
  prompt: 'application/vnd.ollama.image.prompt',
  system: 'application/vnd.ollama.image.system',
  params: 'application/vnd.ollama.image.params',
  messages: 'application/vnd.ollama.image.messages',
  license: 'application/vnd.ollama.image.license',
} as const;

const layerSchema = z.object({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256[:-][0-9a-fA-F]{64}$/),
  size: z.number().int().nonnegative(),
  /** Model a layer was inherited from (Ollama's `from`); shown as details.parent_model. */
  from: z.string().optional(),
});

const manifestSchema = z.object({
  schemaVersion: z.number(),
  mediaType: z.string().optional(),
  config: layerSchema.partial({ digest: true, size: true, mediaType: true }).optional(),
  layers: z.array(layerSchema),
});

export type ManifestLayer = z.infer<typeof layerSchema>;

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config?: Partial<ManifestLayer>;
  layers: ManifestLayer[];
}

/** The config blob, in Ollama's ConfigV2 field order. */
export interface ModelConfig {
  model_format: string;
  model_family: string;
  model_families: string[] | null;
  model_type: string;
  file_type: string;
  renderer?: string;
  parser?: string;
  architecture: string;
  os: string;
  rootfs: { type: string; diff_ids: string[] };
}

export interface StoredManifest {
  /** The name with the casing it has on disk. */
  name: ModelName;
  path: string;
  manifest: Manifest;
  /** sha256 of the manifest file bytes, `sha256:<hex>` (what Ollama lists as the model digest). */
  digest: string;
  mtime: Date;
}

/**
 * Serialises like Go's encoding/json Encoder (compact, HTML characters escaped, trailing newline),
 * so layers Corral writes hash the same as Ollama's for the same content.
 */
export function goJson(value: unknown): string {
  return (
    JSON.stringify(value)
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026')
      .replace(/\u2028/g, '\\u2028')
      .replace(/\u2029/g, '\\u2029') + '\n'
  );
}

export function parseManifest(text: string, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CorralError('internal', `manifest ${where} is not valid JSON`);
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success)
    throw new CorralError('internal', `manifest ${where} is malformed: ${r.error.issues[0]?.message ?? ''}`);
  return r.data;
}

export class ManifestStore {
  readonly dir: string;

  constructor(modelsDir: string) {
    this.dir = path.join(modelsDir, 'manifests');
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    for (const dir of await this.tagDirs()) await sweepTempFiles(dir);
  }

  pathOf(name: ModelName): string {
    return path.join(this.dir, ...namePathParts(name));
  }

  /**
   * Finds the manifest for `name`, matching each path part case-insensitively as Ollama does, and
   * returns the name as spelled on disk. Undefined when there is none.
   */
  async locate(name: ModelName): Promise<{ name: ModelName; path: string; stat: Stats } | undefined> {
    const exact = this.pathOf(name);
    const exactStat = await fileStat(exact);
    if (exactStat) return { name, path: exact, stat: exactStat };
    let dir = this.dir;
    const found: string[] = [];
    for (const want of namePathParts(name)) {
      const entries = await fs.readdir(dir).catch((e: unknown) => (isNotFound(e) ? [] : Promise.reject(e)));
      const match = entries.find((e) => e.toLowerCase() === want.toLowerCase());
      if (match === undefined) return undefined;
      found.push(match);
      dir = path.join(dir, match);
    }
    const onDisk = nameFromPathParts(found);
    const stat = onDisk && (await fileStat(dir));
    if (!onDisk || !stat) return undefined;
    return { name: onDisk, path: dir, stat };
  }

  /** Reads the manifest for `name`; undefined when the model does not exist. */
  async read(name: ModelName): Promise<StoredManifest | undefined> {
    const loc = await this.locate(name);
    if (!loc) return undefined;
    return this.readAt(loc.name, loc.path);
  }

  async readAt(name: ModelName, file: string): Promise<StoredManifest | undefined> {
    let bytes: Buffer;
    let mtime: Date;
    try {
      [bytes, mtime] = await Promise.all([fs.readFile(file), fs.stat(file).then((s) => s.mtime)]);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    const manifest = parseManifest(bytes.toString('utf8'), shortModelName(name));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    return { name, path: file, manifest, digest, mtime };
  }

  /** Writes atomically (temp file in the same directory, then rename). Returns the digest. */
  async write(name: ModelName, manifest: Manifest): Promise<string> {
    const file = this.pathOf(name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const text = JSON.stringify(manifest);
    const tmp = path.join(path.dirname(file), tempName());
    try {
      await fs.writeFile(tmp, text, { flag: 'wx', mode: 0o644 });
      await fs.rename(tmp, file);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
    return `sha256:${createHash('sha256').update(text).digest('hex')}`;
  }

  /**
   * Writes manifest bytes exactly as received from another registry (pull, push target), so the
   * model keeps the digest it has at its source. Atomic like write(). Returns the digest.
   */
  async writeRaw(name: ModelName, bytes: Uint8Array): Promise<string> {
    parseManifest(Buffer.from(bytes).toString('utf8'), shortModelName(name));
    const file = this.pathOf(name);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = path.join(path.dirname(file), tempName());
    try {
      await fs.writeFile(tmp, bytes, { flag: 'wx', mode: 0o644 });
      await fs.rename(tmp, file);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
    return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  }

  /** Removes the manifest file and prunes directories left empty. Returns whether it existed. */
  async remove(name: ModelName): Promise<boolean> {
    const loc = await this.locate(name);
    if (!loc) return false;
    try {
      await fs.unlink(loc.path);
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
    await this.pruneUp(path.dirname(loc.path));
    return true;
  }

  /** Every readable manifest. Corrupt ones are skipped so one bad file cannot hide the rest. */
  async list(): Promise<{ manifests: StoredManifest[]; corrupt: string[] }> {
    const manifests: StoredManifest[] = [];
    const corrupt: string[] = [];
    for (const { name, path: file } of await this.locations()) {
      try {
        const m = await this.readAt(name, file);
        if (m) manifests.push(m);
      } catch {
        corrupt.push(file);
      }
    }
    return { manifests, corrupt };
  }

  /** Where every manifest file is, without reading them (directory walk only). */
  async locations(): Promise<{ name: ModelName; path: string }[]> {
    const out: { name: ModelName; path: string }[] = [];
    for (const dir of await this.tagDirs()) {
      const rel = path.relative(this.dir, dir).split(path.sep);
      for (const tag of await readdirSafe(dir)) {
        const name = nameFromPathParts([...rel, tag]);
        if (name) out.push({ name, path: path.join(dir, tag) });
      }
    }
    return out;
  }

  /** The `<host>/<namespace>/<model>` directories, three levels down. */
  private async tagDirs(): Promise<string[]> {
    let dirs = [this.dir];
    for (let depth = 0; depth < 3; depth++) {
      const next: string[] = [];
      for (const d of dirs) {
        for (const e of await readdirSafe(d, true)) next.push(path.join(d, e));
      }
      dirs = next;
    }
    return dirs;
  }

  private async pruneUp(dir: string): Promise<void> {
    while (dir.startsWith(this.dir + path.sep)) {
      try {
        await fs.rmdir(dir);
      } catch {
        return; // not empty (or gone): stop climbing
      }
      dir = path.dirname(dir);
    }
  }
}

async function readdirSafe(dir: string, dirsOnly = false): Promise<string[]> {
  try {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    return entries
      .filter(
        (e) =>
          !e.name.startsWith(TEMP_PREFIX) && (dirsOnly ? e.isDirectory() : e.isFile() || e.isSymbolicLink()),
      )
      .map((e) => e.name);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

/** The file's stat, or undefined when there is no regular file at `p`. */
async function fileStat(p: string): Promise<Stats | undefined> {
  try {
    const st = await fs.stat(p);
    return st.isFile() ? st : undefined;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
