/**
 * How /v2 names map onto the models directory: `/v2/<namespace>/<model>/...` is this node's own
 * `registry.ollama.ai/<namespace>/<model>` (what `corral create` and pushes write; `library/tiny`
 * is the model listed as `tiny`). Names obey Ollama's rules, which also keep them inside
 * `manifests/` (no `..`, no separators, no absolute paths).
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import type { FastifyRequest } from 'fastify';
import { isModelAllowed, normalizeModel, principalOf, type Principal, type Scope } from '@corral/auth';
import { CorralError } from '@corral/common';
import {
  DEFAULT_HOST,
  normalizeDigest,
  isValidDigest,
  nameFromPathParts,
  parseModelName,
  shortModelName,
  type ModelName,
  type ModelRegistry,
  type StoredManifest,
} from '@corral/registry';
import { OciError } from './oci-errors';

/** The local model a /v2 repository and tag name. */
export function repoName(namespace: string, model: string, tag = 'latest'): ModelName {
  try {
    const name = parseModelName(`${DEFAULT_HOST}/${namespace}/${model}:${tag}`);
    if (name.namespace !== namespace || name.model !== model || name.tag !== tag) throw new Error('changed');
    return name;
  } catch (e) {
    const why = e instanceof CorralError ? e.message : `invalid repository name '${namespace}/${model}'`;
    throw new OciError(400, 'NAME_INVALID', why);
  }
}

export function parseDigestParam(digest: string): string {
  if (!isValidDigest(digest)) throw new OciError(400, 'DIGEST_INVALID', `invalid digest '${digest}'`);
  return normalizeDigest(digest);
}

export function callerOf(req: FastifyRequest): Principal {
  const p = principalOf(req);
  if (!p) throw new OciError(401, 'UNAUTHORIZED', 'authentication required');
  return p;
}

export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.has(scope);
}

/** Refuses (DENIED) a name the caller's key may not use. */
export function assertNameAllowed(p: Principal, name: ModelName): void {
  if (!isModelAllowed(p.models, `${name.host}/${name.namespace}/${name.model}:${name.tag}`))
    throw new OciError(403, 'DENIED', `this API key may not use model '${shortModelName(name)}'`);
}

/**
 * Digests referenced by the tags of a repository that `p` may use: a reader gets a blob only
 * through a model it may pull, never an arbitrary blob of the store by digest. `hidden`: names
 * (normalized) of other teams' models, which the caller may not pull either.
 */
export async function readableDigests(
  registry: ModelRegistry,
  p: Principal,
  namespace: string,
  model: string,
  hidden: ReadonlySet<string> = new Set(),
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const m of await repositoryManifests(registry, namespace, model)) {
    const n = m.name;
    const full = `${n.host}/${n.namespace}/${n.model}:${n.tag}`;
    if (!isModelAllowed(p.models, full) || hidden.has(normalizeModel(full))) continue;
    for (const l of m.manifest.layers) out.add(normalizeDigest(l.digest));
    if (m.manifest.config?.digest) out.add(normalizeDigest(m.manifest.config.digest));
  }
  return out;
}

/**
 * The manifests of every tag of `<namespace>/<model>`: read from the repository's own directory when
 * it is spelled as asked (the common case, one readdir), else found case-insensitively in the list.
 */
async function repositoryManifests(
  registry: ModelRegistry,
  namespace: string,
  model: string,
): Promise<StoredManifest[]> {
  const base = repoName(namespace, model);
  const dir = path.dirname(registry.manifests.pathOf(base));
  const tags = await readdir(dir).catch(() => undefined);
  if (tags) {
    const out: StoredManifest[] = [];
    for (const tag of tags) {
      const name = nameFromPathParts([base.host, namespace, model, tag]);
      if (!name) continue;
      const m = await registry.manifests.readAt(name, path.join(dir, tag)).catch(() => undefined);
      if (m) out.push(m);
    }
    return out;
  }
  const { manifests } = await registry.manifests.list();
  return manifests.filter(
    (m) =>
      m.name.host.toLowerCase() === DEFAULT_HOST &&
      m.name.namespace.toLowerCase() === namespace.toLowerCase() &&
      m.name.model.toLowerCase() === model.toLowerCase(),
  );
}
