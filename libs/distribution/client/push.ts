/**
 * `push`: sends a local model to an allow-listed registry that accepts pushes, the way Ollama's
 * PushModel does and with its progress messages: blobs the target already has (HEAD) are skipped,
 * the others are uploaded in an upload session (POST, PATCH, PUT ?digest=), the manifest goes last.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { CorralError } from '@corral/common';
import type { RegistryConfig } from '@corral/config';
import {
  MEDIA_TYPES,
  normalizeDigest,
  parseModelName,
  shortModelName,
  type ModelName,
  type ModelRegistry,
} from '@corral/registry';
import { shortDigest, throttled, type ProgressFn } from './progress';
import { RegistryClient } from './registry-client';
import { resolveSource } from './sources';

export interface PushOptions {
  insecure?: boolean;
  signal?: AbortSignal;
}

export async function pushModel(
  registry: ModelRegistry,
  config: RegistryConfig,
  rawName: string,
  progress: ProgressFn,
  opts: PushOptions = {},
): Promise<{ name: ModelName }> {
  const name = parseModelName(rawName);
  const source = await resolveSource(config, name, { insecure: opts.insecure, verb: 'push' });
  await registry.init();
  progress({ status: 'retrieving manifest' });
  const stored = await registry.manifests.read(name);
  if (!stored) throw new CorralError('model_not_found', `model '${shortModelName(name)}' not found`, 'model');
  const client = new RegistryClient(source);
  const repository = `${name.namespace}/${name.model}`;
  const { manifest } = stored;
  const layers = [...manifest.layers];
  if (manifest.config?.digest && manifest.config.size !== undefined)
    layers.push({
      mediaType: manifest.config.mediaType ?? '',
      digest: manifest.config.digest,
      size: manifest.config.size,
    });

  for (const layer of layers) {
    const digest = normalizeDigest(layer.digest);
    const status = `pushing ${shortDigest(digest)}`;
    const size = await registry.blobs.size(digest);
    if (size === undefined)
      throw new CorralError('model_load_failed', `model '${shortModelName(name)}' is missing blob ${digest}`);
    if (await client.hasBlob(repository, digest, opts.signal)) {
      progress({ status, digest, total: size, completed: size });
      continue;
    }
    const report = throttled(100, (completed) => progress({ status, digest, total: size, completed }), size);
    report(0);
    await uploadBlob(client, repository, digest, registry.blobs.path(digest), size, report, opts.signal);
  }

  progress({ status: 'pushing manifest' });
  const bytes = await readFile(stored.path);
  const res = await client.fetch(client.repoUrl(repository, `manifests/${name.tag}`), {
    method: 'PUT',
    headers: { 'content-type': manifest.mediaType ?? MEDIA_TYPES.manifest },
    body: bytes,
    signal: opts.signal,
  });
  if (!res.ok) await client.fail(res, `manifest ${repository}:${name.tag}`);
  await res.body?.cancel().catch(() => undefined);
  progress({ status: 'success' });
  return { name };
}

/**
 * Uploads one blob in an upload session: POST to open it, one PATCH streaming the file, PUT with
 * the digest to finish (the target verifies it). Reusable for any registry that accepts pushes.
 */
export async function uploadBlob(
  client: RegistryClient,
  repository: string,
  digest: string,
  file: string,
  size: number,
  onProgress: (completed: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const opened = await client.fetch(client.repoUrl(repository, 'blobs/uploads/'), { method: 'POST', signal });
  if (opened.status !== 202) await client.fail(opened, `upload of ${digest}`);
  await opened.body?.cancel().catch(() => undefined);
  let location = sessionUrl(client, opened);
  let sent = 0;
  async function* body(): AsyncGenerator<Uint8Array> {
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
      sent += chunk.length;
      onProgress(Math.min(sent, size));
      yield chunk;
    }
  }
  if (size > 0) {
    const patched = await client.fetch(location, {
      method: 'PATCH',
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': `0-${size - 1}`,
        'content-length': String(size),
      },
      body: body(),
      signal,
    });
    if (patched.status !== 202) await client.fail(patched, `upload of ${digest}`);
    await patched.body?.cancel().catch(() => undefined);
    location = sessionUrl(client, patched);
  }
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  const done = await client.fetch(url.toString(), {
    method: 'PUT',
    headers: { 'content-length': '0' },
    signal,
  });
  if (done.status !== 201) await client.fail(done, `upload of ${digest}`);
  await done.body?.cancel().catch(() => undefined);
  onProgress(size);
}

/** The session URL a registry returned; it must stay on the registry's origin (checked on use). */
function sessionUrl(client: RegistryClient, res: Response): string {
  const location = res.headers.get('location');
  if (!location) throw new CorralError('unavailable', `registry ${client.origin} gave no upload location`);
  return new URL(location, client.origin).toString();
}
