/**
 * Collection of blobs no manifest refers to: those left by failed creates, uploads that were never
 * used (POST /api/blobs, push sessions finished without a manifest). A blob is collected only when
 * it is older than the grace period (a client uploads its files first and creates the model after),
 * no manifest refers to it, and no lease of this process holds it.
 *
 * Several gateways may share one models directory (cluster mode) and cannot see each other's
 * leases, so collection is safe under concurrency in two ways: a lease touches its blob (see
 * ModelRegistry.touchHeld), so a blob in use anywhere is never older than the grace; and a blob is
 * first renamed to a tombstone, then the manifests are read once more, and a blob some manifest
 * written in between refers to is put back. A reader therefore never loses a blob a manifest it
 * could have read refers to.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { BlobStore } from './blob-store';
import { isNotFound, normalizeDigest, TOMB_PREFIX } from './blob-store';
import type { ManifestStore, StoredManifest } from './manifests';

const DIGEST_IN_TEXT = /sha256[:-]([0-9a-f]{64})/gi;

export interface CollectOptions {
  /** Blobs modified more recently than this are kept. */
  graceMs: number;
  /** Digests to keep whatever the manifests say (held by this process). */
  isHeld: (digest: string) => boolean;
}

/** Digests referred to by every manifest, and conservatively by any digest a corrupt one mentions. */
export async function referencedDigests(manifests: ManifestStore): Promise<Set<string>> {
  const { manifests: ok, corrupt } = await manifests.list();
  const used = new Set<string>(ok.flatMap(manifestDigests));
  for (const file of corrupt) {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    for (const m of text.matchAll(DIGEST_IN_TEXT)) used.add(`sha256:${m[1]!.toLowerCase()}`);
  }
  return used;
}

export function manifestDigests(m: StoredManifest): string[] {
  const out = m.manifest.layers.map((l) => normalizeDigest(l.digest));
  if (m.manifest.config?.digest) out.push(normalizeDigest(m.manifest.config.digest));
  return out;
}

/** Deletes unreferenced blobs older than the grace period. Returns the digests removed. */
export async function collectUnreferenced(
  blobs: BlobStore,
  manifests: ManifestStore,
  opts: CollectOptions,
): Promise<string[]> {
  const used = await referencedDigests(manifests);
  const tombs: { digest: string; tomb: string }[] = [];
  for (const digest of await blobs.list()) {
    if (used.has(digest) || opts.isHeld(digest)) continue;
    const file = blobs.path(digest);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st?.isFile() || Date.now() - st.mtimeMs < opts.graceMs) continue;
    const tomb = path.join(blobs.dir, `${TOMB_PREFIX}${digest.slice('sha256:'.length)}`);
    try {
      await fs.rename(file, tomb);
      tombs.push({ digest, tomb });
    } catch (e) {
      if (!isNotFound(e)) throw e; // another gateway took it first
    }
  }
  if (!tombs.length) return [];
  // A manifest written while we looked (a create or pull on another gateway) wins.
  const usedNow = await referencedDigests(manifests).catch(() => undefined);
  const removed: string[] = [];
  for (const { digest, tomb } of tombs) {
    if (!usedNow || usedNow.has(digest) || opts.isHeld(digest)) {
      await fs.rename(tomb, blobs.path(digest)).catch(() => undefined);
      continue;
    }
    await fs.rm(tomb, { force: true });
    removed.push(digest);
  }
  return removed;
}

/** Puts back tombstones a crashed collection left (they were unreferenced, but a later manifest may not be). */
export async function restoreTombstones(blobs: BlobStore): Promise<void> {
  const names = await fs.readdir(blobs.dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(TOMB_PREFIX)) continue;
    const hex = name.slice(TOMB_PREFIX.length);
    if (!/^[0-9a-f]{64}$/.test(hex)) continue;
    const dest = blobs.path(`sha256:${hex}`);
    if (await blobs.has(`sha256:${hex}`)) await fs.rm(path.join(blobs.dir, name), { force: true });
    else await fs.rename(path.join(blobs.dir, name), dest).catch(() => undefined);
  }
}
