/**
 * The model registry: Ollama's on-disk models directory (blobs + manifests) behind create, list,
 * resolve, show, copy and delete. A plain class; the gateway wraps it in a NestJS module.
 *
 * Consistency rules: operations on one model name run one at a time; a blob is collected only
 * when no manifest refers to it and no in-flight create or copy holds it; a failed create leaves
 * no manifest, no blob it stored, and no temp file.
 */
import * as fs from 'node:fs/promises';
import { CorralError } from '@corral/common';
import { collectUnreferenced, manifestDigests, restoreTombstones } from './blob-gc';
import { BlobStore, normalizeDigest, type BlobLease } from './blob-store';
import { buildModel } from './create';
import { CreateModelRequest, parseCreateRequest, planCreate } from './create-request';
import { KeyedMutex } from './keyed-mutex';
import { goJson, ManifestStore, MEDIA_TYPES, parseManifest, StoredManifest } from './manifests';
import { formatModelfile } from './modelfile';
import { buildResolved, loadLayers, modelDetails } from './model-loader';
import { ModelName, modelNameKey, parseModelName, shortModelName } from './names';
import { mapStorageErrors, storageError } from './storage-errors';
import { goSyntaxValue, parameterEntries } from './parameters';
import type { ResolvedModel } from './types';

/** Options for createRegistry. */
export interface RegistryOptions {
  /** Ollama-layout models directory (`OLLAMA_MODELS`), holding `blobs/` and `manifests/`. */
  modelsDir: string;
  /**
   * Directories whose files a create request may name by server path (legacy `path`, `FROM <path>`,
   * `ADAPTER <path>`; CORRAL_IMPORT_DIRS). Defaults to none: every server path is refused.
   */
  importDirs?: readonly string[];
}

/** One /api/tags entry. */
export interface ListedModel {
  name: string;
  model: string;
  modified_at: string;
  size: number;
  /** Manifest digest, hex without `sha256:`. */
  digest: string;
  details: ResolvedModel['details'];
}

/** The /api/show body. Empty fields are left out, as Ollama's omitempty does. */
export interface ShowResponse {
  license?: string;
  modelfile: string;
  parameters?: string;
  template?: string;
  system?: string;
  details: ResolvedModel['details'];
  model_info: Record<string, unknown>;
  capabilities: string[];
  modified_at: string;
  messages?: ResolvedModel['messages'];
}

export interface ShowOptions {
  /** Ollama returns large metadata arrays only when verbose. Corral's GGUF summary never holds them. Defaults to false. */
  verbose?: boolean;
}

/** Ollama's template when a model has none: the prompt as-is. */
const DEFAULT_TEMPLATE = '{{ .Prompt }}';

/** A listing entry with its manifest's mtime for sorting; `complete` when its layers could be read. */
type ListedEntry = ListedModel & { mtime: number; complete?: boolean };

interface CacheEntry {
  ino: number;
  mtimeMs: number;
  size: number;
  model: ResolvedModel;
}

export class ModelRegistry {
  readonly blobs: BlobStore;
  readonly manifests: ManifestStore;
  private readonly locks = new KeyedMutex();
  private readonly cache = new Map<string, CacheEntry>();
  /** /api/tags entries per manifest path, valid while the file's inode, mtime and size are unchanged. */
  private readonly listed = new Map<
    string,
    { ino: number; mtimeMs: number; size: number; entry: ListedEntry }
  >();
  private readonly collections = new Set<Promise<unknown>>();
  private ready?: Promise<void>;

  constructor(readonly options: RegistryOptions) {
    this.blobs = new BlobStore(options.modelsDir);
    this.manifests = new ManifestStore(options.modelsDir);
  }

  /**
   * Creates the directories, puts back blobs a crashed collection left half-collected and sweeps
   * dead writers' temp files; the gateway runs it at start, and every method awaits it. A failure
   * (a read-only models directory) is not kept: the next call tries again.
   */
  init(): Promise<void> {
    this.ready ??= (async () => {
      await fs.mkdir(this.blobs.dir, { recursive: true });
      await restoreTombstones(this.blobs);
      await Promise.all([this.blobs.init(), this.manifests.init()]);
    })().catch((e: unknown) => {
      this.ready = undefined;
      throw storageError(e);
    });
    return this.ready;
  }

  /** Reads work on a directory that cannot be written (a read-only mount). */
  private async initForReading(): Promise<void> {
    await this.init().catch((e: unknown) => {
      if (e instanceof CorralError && (e.code === 'unavailable' || e.code === 'insufficient_storage')) return;
      throw e;
    });
  }

  /**
   * Deletes blobs no manifest refers to and no create, copy or pull holds, once older than
   * `graceMs` (uploads waiting for their create are younger). Returns the digests removed.
   */
  async collectGarbage(graceMs: number): Promise<string[]> {
    await this.init();
    const run = collectUnreferenced(this.blobs, this.manifests, {
      graceMs,
      isHeld: (d) => this.blobs.isHeld(d),
    });
    this.collections.add(run);
    try {
      return await run;
    } finally {
      this.collections.delete(run);
    }
  }

  async create(
    body: CreateModelRequest | unknown,
    progress: (status: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    return mapStorageErrors(() => this.createModel(body, progress, signal));
  }

  private async createModel(
    body: CreateModelRequest | unknown,
    progress: (status: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const req = parseCreateRequest(body);
    const plan = await planCreate(req, { importDirs: this.options.importDirs });
    await this.init();
    const name = parseModelName(plan.model);
    await this.locks.run(modelNameKey(name), async () => {
      const target = (await this.manifests.locate(name))?.name ?? name;
      const old = await this.manifests.read(target).catch(() => undefined);
      const lease = this.blobs.lease();
      const created = new Set<string>();
      let discard: string[] = [];
      try {
        const built = await buildModel(
          { blobs: this.blobs, manifests: this.manifests, lease, progress, signal, created },
          plan,
        );
        const cfg = await this.blobs.putBytes(goJson(built.config), { lease, signal });
        if (cfg.created) created.add(cfg.digest);
        discard = built.discard;
        for (const s of built.statuses) progress(s);
        signal?.throwIfAborted();
        progress('writing manifest');
        await this.manifests.write(target, {
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.manifest,
          config: { mediaType: MEDIA_TYPES.config, digest: cfg.digest, size: cfg.size },
          layers: built.layers,
        });
        this.cache.delete(modelNameKey(target));
      } catch (e) {
        lease.release();
        await this.collect([...created]).catch(() => undefined);
        throw e;
      }
      await this.releaseAfterCollections(lease);
      if (old) await this.collect(digestsOf(old));
      if (discard.length) await this.collect(discard);
    });
    progress('success');
  }

  /**
   * Every model, newest first. Each entry is cached per manifest file (inode, mtime, size), so a
   * listing costs a directory walk and one stat() per model; only changed manifests are re-read.
   */
  async list(): Promise<ListedModel[]> {
    await this.initForReading();
    const seen = new Set<string>();
    const out: ListedEntry[] = [];
    for (const loc of await this.manifests.locations()) {
      const st = await fs.stat(loc.path).catch(() => undefined);
      if (!st?.isFile()) continue;
      seen.add(loc.path);
      const hit = this.listed.get(loc.path);
      if (hit && hit.ino === st.ino && hit.mtimeMs === st.mtimeMs && hit.size === st.size) {
        out.push(hit.entry);
        continue;
      }
      const entry = await this.listEntry(loc.name, loc.path).catch(() => undefined); // corrupt: skipped
      if (!entry) continue;
      if (entry.complete)
        this.listed.set(loc.path, { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, entry });
      out.push(entry);
    }
    for (const key of this.listed.keys()) if (!seen.has(key)) this.listed.delete(key);
    out.sort((a, b) => b.mtime - a.mtime);
    return out.map(({ mtime: _mtime, complete: _complete, ...rest }) => rest);
  }

  private async listEntry(name: ModelName, file: string): Promise<ListedEntry | undefined> {
    const m = await this.manifests.readAt(name, file);
    if (!m) return undefined;
    const layers = await loadLayers(this.blobs, m).catch(() => undefined);
    const size = m.manifest.layers.reduce((n, l) => n + l.size, 0) + (m.manifest.config?.size ?? 0);
    const short = shortModelName(m.name);
    return {
      name: short,
      model: short,
      modified_at: m.mtime.toISOString(),
      size,
      digest: m.digest.slice('sha256:'.length),
      details: modelDetails(
        layers ?? {
          parentModel: '',
          adapters: [],
          projectors: [],
          parameters: {},
          messages: [],
          license: [],
          size,
        },
      ),
      mtime: m.mtime.getTime(),
      complete: layers !== undefined,
    };
  }

  /** Resolves a name to files and settings. Cached per manifest file, so a hit costs one stat(). */
  async resolve(raw: string): Promise<ResolvedModel> {
    await this.initForReading();
    const name = parseModelName(raw);
    const loc = await this.manifests.locate(name);
    if (!loc) throw notFound(raw);
    const key = modelNameKey(loc.name);
    // locate's stat: the cache below is checked against the manifest file as it is now.
    const st = loc.stat;
    const hit = this.cache.get(key);
    if (hit && hit.ino === st.ino && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.model;
    const stored = await this.manifests.readAt(loc.name, loc.path);
    if (!stored) throw notFound(raw);
    const model = await buildResolved(this.blobs, stored);
    this.cache.set(key, { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size, model });
    return model;
  }

  async show(raw: string, _opts: ShowOptions = {}): Promise<ShowResponse> {
    const r = await this.resolve(raw);
    const modelfile = formatModelfile(
      {
        from: r.modelPath,
        adapters: r.adapters.map((a) => a.path),
        template: r.template,
        system: r.system,
        parameters: r.parameters,
        license: r.license,
        messages: r.messages,
      },
      { shortName: r.name },
    );
    const params = parameterEntries(r.parameters).map(([k, v]) => `${k.padEnd(30)} ${goSyntaxValue(v)}`);
    const out: ShowResponse = {
      modelfile,
      details: r.details,
      model_info: r.gguf.modelInfo,
      capabilities: r.capabilities,
      modified_at: r.modifiedAt.toISOString(),
      template: r.template ?? r.gguf.chatTemplate ?? DEFAULT_TEMPLATE,
    };
    if (r.license.length) out.license = r.license.join('\n');
    if (params.length) out.parameters = params.join('\n');
    if (r.system) out.system = r.system;
    if (r.messages.length) out.messages = r.messages;
    return out;
  }

  async copy(source: string, destination: string): Promise<void> {
    return mapStorageErrors(() => this.copyModel(source, destination));
  }

  private async copyModel(source: string, destination: string): Promise<void> {
    await this.init();
    const src = parseModelName(source);
    const dst = parseModelName(destination);
    await this.locks.run(modelNameKey(dst), async () => {
      const stored = await this.manifests.read(src);
      if (!stored) throw notFound(source);
      if (modelNameKey(stored.name) === modelNameKey(dst)) return;
      const target = (await this.manifests.locate(dst))?.name ?? dst;
      const old = await this.manifests.read(target).catch(() => undefined);
      const lease = this.blobs.lease();
      try {
        for (const d of digestsOf(stored)) {
          await lease.hold(d);
          if (!(await this.blobs.has(d)))
            throw new CorralError('model_load_failed', `model '${source}' is missing blob ${d}`);
        }
        await this.manifests.write(target, stored.manifest);
        this.cache.delete(modelNameKey(target));
      } catch (e) {
        lease.release();
        throw e;
      }
      await this.releaseAfterCollections(lease);
      if (old) await this.collect(digestsOf(old));
    });
  }

  /**
   * Installs a manifest whose blobs were fetched or uploaded from another registry (pull, push
   * target): under the name's lock, after checking every blob it names is in the store with the
   * size it claims, replacing (and collecting the blobs of) an older manifest of that name. The
   * caller's lease is released once no collection can miss the new manifest.
   */
  async installManifest(name: ModelName, bytes: Uint8Array, lease: BlobLease): Promise<string> {
    await mapStorageErrors(() => this.init());
    return mapStorageErrors(() => this.installLocked(name, bytes, lease));
  }

  private installLocked(name: ModelName, bytes: Uint8Array, lease: BlobLease): Promise<string> {
    return this.locks.run(modelNameKey(name), async () => {
      const target = (await this.manifests.locate(name))?.name ?? name;
      const manifest = parseManifest(Buffer.from(bytes).toString('utf8'), shortModelName(name));
      const old = await this.manifests.read(target).catch(() => undefined);
      let digest: string;
      try {
        for (const layer of [...manifest.layers, ...(manifest.config?.digest ? [manifest.config] : [])]) {
          const d = normalizeDigest(layer.digest);
          await lease.hold(d);
          const size = await this.blobs.size(d);
          if (size === undefined || (layer.size !== undefined && size !== layer.size))
            throw new CorralError(
              'bad_request',
              `manifest refers to blob ${d}, which is not here (or differs in size)`,
            );
        }
        digest = await this.manifests.writeRaw(target, bytes);
        this.cache.delete(modelNameKey(target));
      } catch (e) {
        lease.release();
        throw e;
      }
      await this.releaseAfterCollections(lease);
      if (old && old.digest !== digest) await this.collect(digestsOf(old));
      return digest;
    });
  }

  /** Removes the manifest, then every blob it used that no other manifest uses. */
  async delete(raw: string): Promise<void> {
    return mapStorageErrors(() => this.deleteModel(raw));
  }

  private async deleteModel(raw: string): Promise<void> {
    await this.init();
    const name = parseModelName(raw);
    await this.locks.run(modelNameKey(name), async () => {
      const loc = await this.manifests.locate(name);
      if (!loc) throw notFound(raw);
      // A corrupt manifest is still deleted; its blobs are left for a later prune.
      const stored = await this.manifests.readAt(loc.name, loc.path).catch(() => undefined);
      await this.manifests.remove(loc.name);
      this.cache.delete(modelNameKey(loc.name));
      if (stored) await this.collect(digestsOf(stored));
    });
  }

  /** Deletes those of `candidates` that no manifest on disk refers to and no lease holds. */
  private async collect(candidates: string[]): Promise<void> {
    if (!candidates.length) return;
    const run = (async () => {
      const { manifests } = await this.manifests.list();
      const used = new Set(manifests.flatMap(digestsOf));
      for (const d of new Set(candidates)) if (!used.has(d)) await this.blobs.remove(d);
    })();
    this.collections.add(run);
    try {
      await run;
    } finally {
      this.collections.delete(run);
    }
  }

  /**
   * A collection that listed manifests before ours was written would not see it, so the lease is
   * kept until every such collection has finished; later ones read the new manifest.
   */
  private async releaseAfterCollections(lease: { release(): void }): Promise<void> {
    await Promise.allSettled([...this.collections]);
    lease.release();
  }
}

const digestsOf = (m: StoredManifest): string[] => manifestDigests(m);

function notFound(raw: string): CorralError {
  return new CorralError('model_not_found', `model '${raw}' not found`, 'model');
}

/** Creates a registry over an Ollama-layout models directory. */
export function createRegistry(options: RegistryOptions): ModelRegistry {
  return new ModelRegistry(options);
}

export type { ModelName };
