/**
 * Hides models outside a key's allow-list, and models of other teams (the names the ownership
 * guard put on the request), from the model listings (`GET /api/tags`, `GET /v1/models`,
 * `GET /api/ps`), so a caller sees only what it may use.
 *
 * A Fastify preSerialization hook rather than a global Nest interceptor: an interceptor puts every
 * route of the gateway through an rxjs pipeline, which measurably cut throughput (bench/auth-throughput.ts
 * fell to about a third on GET /v1/models); the hook costs one property read for everyone else.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isModelAllowed, normalizeModel } from './model-access';
import { hiddenModelsOf } from './model-ownership';
import { principalOf } from './principal';

const LISTINGS: Record<string, 'models' | 'data'> = {
  '/api/tags': 'models',
  '/api/ps': 'models',
  '/v1/models': 'data',
};

export function filterModelListing(req: FastifyRequest, payload: unknown): unknown {
  const allowed = principalOf(req)?.models ?? null;
  const hidden = hiddenModelsOf(req);
  if ((allowed === null && !hidden?.size) || req.method !== 'GET') return payload;
  const field = LISTINGS[req.url.split('?')[0] ?? ''];
  const list = field ? (payload as Record<string, unknown> | null)?.[field] : undefined;
  if (!field || !Array.isArray(list)) return payload;
  const visible = list.filter((m: { name?: unknown; id?: unknown }) => {
    const name = typeof m.name === 'string' ? m.name : typeof m.id === 'string' ? m.id : undefined;
    return name !== undefined && isModelAllowed(allowed, name) && !isHidden(hidden, name);
  });
  return { ...(payload as object), [field]: visible };
}

function isHidden(hidden: ReadonlySet<string> | undefined, name: string): boolean {
  if (!hidden?.size) return false;
  try {
    return hidden.has(normalizeModel(name));
  } catch {
    return false;
  }
}

export function installModelListFilter(fastify: FastifyInstance): void {
  // Callback style: an async hook would allocate a promise on every reply of every route.
  fastify.addHook(
    'preSerialization',
    (
      req: FastifyRequest,
      _reply: FastifyReply,
      payload: unknown,
      done: (err: null, value: unknown) => void,
    ) => done(null, filterModelListing(req, payload)),
  );
}
