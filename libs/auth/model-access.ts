/**
 * Model allow-lists. A key may name allowed models; the guard reads the model a request targets
 * from its body (`model`, `name`, copy's `source`/`destination`) or from `/v1/models/<id>`, and the
 * list interceptor hides the rest from model listings.
 */
import type { FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import { modelNameKey, parseModelName, shortModelName } from '@corral/registry';

/** Lower-case full name (`registry.ollama.ai/library/tiny:latest`), the form allow-lists store. */
export function normalizeModel(name: string): string {
  return modelNameKey(parseModelName(name));
}

export function displayModel(name: string): string {
  try {
    return shortModelName(parseModelName(name));
  } catch {
    return name;
  }
}

export function modelsInRequest(req: FastifyRequest): string[] {
  const out: string[] = [];
  const body = req.body;
  if (body && typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body)) {
    const b = body as Record<string, unknown>;
    for (const field of ['model', 'name', 'source', 'destination'] as const) {
      if (typeof b[field] === 'string' && b[field] !== '') out.push(b[field]);
    }
  }
  const wildcard = (req.params as Record<string, unknown> | undefined)?.['*'];
  if (typeof wildcard === 'string' && wildcard !== '' && req.url.startsWith('/v1/models/'))
    out.push(wildcard);
  return out;
}

export function isModelAllowed(allowed: readonly string[] | null, name: string): boolean {
  if (allowed === null) return true;
  let key: string;
  try {
    key = normalizeModel(name);
  } catch {
    // Not a valid name: the route itself reports that (400/404); nothing to protect here.
    return true;
  }
  return allowed.includes(key);
}

/** Throws 403 naming the first model the caller may not use. */
export function assertModelsAllowed(allowed: readonly string[] | null, names: string[]): void {
  for (const name of names) {
    if (!isModelAllowed(allowed, name))
      throw new CorralError('forbidden', `this API key may not use model '${displayModel(name)}'`, 'model');
  }
}
