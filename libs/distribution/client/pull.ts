/**
 * `pull`: copies a model from an allow-listed registry into this node's models directory, the way
 * Ollama's PullModel does and with its progress messages. Order of effects: blobs are fetched into
 * the partial area, verified and linked one by one, and the manifest is written last, atomically;
 * a failure at any point leaves no manifest, and partials stay to be resumed.
 */
import * as path from 'node:path';
import { CorralError } from '@corral/common';
import type { RegistryConfig } from '@corral/config';
import {
  normalizeDigest,
  parseManifest,
  parseModelName,
  shortModelName,
  type ModelName,
  type ModelRegistry,
} from '@corral/registry';
import { commitPartial, fetchToPartial } from './downloader';
import { shortDigest, throttled, type ProgressFn } from './progress';
import { RegistryClient } from './registry-client';
import { resolveSource } from './sources';

export interface PullOptions {
  insecure?: boolean;
  signal?: AbortSignal;
}

/** The partial-download area of a models directory (same filesystem as its blobs). */
export function partialDir(modelsDir: string): string {
  return path.join(modelsDir, 'partial');
}

/** Blobs being fetched in this process: two pulls of one blob must not share a partial file. */
const inFlight = new Map<string, Promise<unknown>>();

async function exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
  for (let p = inFlight.get(key); p; p = inFlight.get(key)) await p.catch(() => undefined);
  const run = fn();
  inFlight.set(key, run);
  try {
    return await run;
  } finally {
    if (inFlight.get(key) === run) inFlight.delete(key);
  }
}

export async function pullModel(
  registry: ModelRegistry,
  config: RegistryConfig,
  rawName: string,
  progress: ProgressFn,
  opts: PullOptions = {},
): Promise<{ name: ModelName; digest: string }> {
  const name = parseModelName(rawName);
  const source = await resolveSource(config, name, { insecure: opts.insecure, verb: 'pull' });
  const client = new RegistryClient(source);
  const repository = `${name.namespace}/${name.model}`;
  await registry.init();

  // Sent once the manifest is in hand, so that refusals (the remote's 401, 404, a redirect
  // elsewhere) are still plain HTTP errors rather than a line inside a 200 stream.
  const bytes = await client.getManifest(repository, name.tag, opts.signal);
  progress({ status: 'pulling manifest' });
  let manifest;
  try {
    manifest = parseManifest(bytes.toString('utf8'), shortModelName(name));
  } catch {
    throw new CorralError(
      'bad_request',
      `registry ${client.origin} sent an invalid manifest for ${shortModelName(name)}`,
    );
  }
  const layers = [...manifest.layers];
  if (manifest.config?.digest) {
    if (manifest.config.size === undefined)
      throw new CorralError('bad_request', `manifest of ${shortModelName(name)} has a config without a size`);
    layers.unshift({
      mediaType: manifest.config.mediaType ?? '',
      digest: manifest.config.digest,
      size: manifest.config.size,
    });
  }

  const dir = partialDir(registry.options.modelsDir);
  const lease = registry.blobs.lease();
  // Blobs this pull linked: removed again if it fails, so a refused pull leaves nothing behind.
  const created: string[] = [];
  try {
    const fetched: string[] = [];
    for (const layer of layers) {
      const digest = normalizeDigest(layer.digest);
      const status = `pulling ${shortDigest(digest)}`;
      await lease.hold(digest);
      if ((await registry.blobs.size(digest)) === layer.size) {
        progress({ status, digest, total: layer.size, completed: layer.size });
        continue;
      }
      const report = throttled(
        100,
        (completed) => progress({ status, digest, total: layer.size, completed }),
        layer.size,
      );
      const linked = await exclusive(digest, async () => {
        // Another pull of this blob may have finished while this one waited.
        if ((await registry.blobs.size(digest)) === layer.size) return true;
        await fetchToPartial({
          client,
          repository,
          digest,
          size: layer.size,
          partialDir: dir,
          concurrency: config.pullConcurrency,
          partSize: config.pullPartSize,
          signal: opts.signal,
          onProgress: report,
        });
        return false;
      });
      if (linked) report(layer.size);
      else fetched.push(digest);
    }

    progress({ status: 'verifying sha256 digest' });
    for (const digest of fetched) {
      const put = await exclusive(digest, async () => {
        // A concurrent pull of the same blob may have linked it meanwhile (and used the partial).
        if ((await registry.blobs.size(digest)) !== undefined) return { created: false };
        return commitPartial(registry.blobs, dir, digest, { lease, signal: opts.signal });
      });
      if (put.created) created.push(digest);
    }
    opts.signal?.throwIfAborted();
    progress({ status: 'writing manifest' });
  } catch (e) {
    lease.release();
    for (const d of created) await registry.blobs.remove(d).catch(() => undefined);
    throw e;
  }
  const digest = await registry.installManifest(name, bytes, lease);
  progress({ status: 'success' });
  return { name, digest };
}
