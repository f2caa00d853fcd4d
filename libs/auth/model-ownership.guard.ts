/**
 * Applies model ownership (./model-ownership.ts) to every route that needs a model scope, after the
 * AuthGuard has established the caller and checked the key's allow-list:
 *
 * - every model a request names (body `model`/`name`/`source`, `/v1/models/{id}`, `/v2` manifests)
 *   that belongs to another team answers as if it did not exist (404 in the route's dialect);
 * - names a request creates (create, copy's destination, pull, a pushed manifest) and deletes are
 *   authorized, a new name is claimed for the caller's team, and the owner goes into the audit note;
 * - listings (`/api/tags`, `/v1/models`, `/api/ps`) and `/v2` blob reads get the set of names to hide.
 *
 * A guard, not a controller concern, so no model route can forget it; a second APP_GUARD registered
 * after AuthGuard (Nest runs global guards in registration order) and failing closed if it is not.
 */
import { Injectable, Logger, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CorralError, IS_PUBLIC } from '@corral/common';
import { recordChange } from '@corral/core';
import { modelsInRequest } from './model-access';
import {
  ModelOwnership,
  ollamaNotFound,
  openAiNotFound,
  setHiddenModels,
  type NotFound,
  type WriteDecision,
} from './model-ownership';
import { isGlobalAdmin, principalOf, type Principal } from './principal';
import { SCOPES_METADATA, type Scope } from './scopes';

const MODEL_SCOPES = new Set<Scope>(['inference', 'embeddings', 'models:read', 'models:write']);

/** Routes whose body names a model they create or replace: which field. */
const CREATES: Record<string, readonly string[]> = {
  'POST /api/create': ['model', 'name'],
  'POST /api/copy': ['destination'],
  'POST /api/pull': ['model', 'name'],
};
const DELETE_ROUTE = 'DELETE /api/delete';
const V2_BLOB = '/v2/:namespace/:model/blobs/:digest';
/** Routes that list models (or serve blobs through them) and hide the names in the hidden set. */
const LISTINGS = new Set([
  'GET /api/tags',
  'GET /v1/models',
  'GET /api/ps',
  `GET ${V2_BLOB}`,
  `HEAD ${V2_BLOB}`,
]);
const V2_MANIFEST = '/v2/:namespace/:model/manifests/:reference';

const PENDING = Symbol('corral.models.pending-release');

interface Pending {
  name: string;
  kind: 'create' | 'delete';
}

/**
 * Releases the owner rows the guard marked, in `onSend` (before the response leaves, status known).
 * Callback style: an async hook would allocate a promise on every reply of every route.
 */
export function installOwnershipRelease(fastify: FastifyInstance, ownership: ModelOwnership): void {
  const logger = new Logger('ModelOwnership');
  fastify.addHook(
    'onSend',
    (
      req: FastifyRequest,
      reply: FastifyReply,
      payload: unknown,
      done: (err: null, value: unknown) => void,
    ) => {
      const pending = (req as unknown as Record<symbol, Pending[] | undefined>)[PENDING];
      if (!pending) return done(null, payload);
      const failed = reply.statusCode >= 400;
      const names = pending.filter((p) => p.kind === 'delete' || failed).map((p) => p.name);
      Promise.all(names.map((n) => ownership.releaseIfGone(n))).then(
        () => done(null, payload),
        (e: Error) => {
          logger.warn(`could not release a model owner row: ${e.message}`);
          done(null, payload);
        },
      );
    },
  );
}

const ociNotFound: NotFound = (name) => new CorralError('not_found', `manifest unknown: ${name}`);

function firstString(body: Record<string, unknown>, fields: readonly string[]): string | undefined {
  for (const f of fields) if (typeof body[f] === 'string' && body[f] !== '') return body[f];
  return undefined;
}

@Injectable()
export class ModelOwnershipGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly ownership: ModelOwnership,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const p = principalOf(req);
    // AuthGuard sets the principal or throws; without one this guard ran first: refuse everything.
    if (!p) throw new CorralError('internal', 'model ownership checked before authentication');
    const required = this.reflector.getAllAndMerge<Scope[]>(SCOPES_METADATA, targets) ?? [];
    const route = `${req.method} ${req.routeOptions?.url ?? ''}`;
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    const v2Manifest = req.routeOptions?.url === V2_MANIFEST;
    // /v2 blob reads declare no scope (the controller checks read or write itself).
    const v2Blob = req.routeOptions?.url === V2_BLOB;
    if (!v2Manifest && !v2Blob && !required.some((s) => MODEL_SCOPES.has(s))) return true;

    const body =
      req.body && typeof req.body === 'object' && !Array.isArray(req.body) && !Buffer.isBuffer(req.body)
        ? (req.body as Record<string, unknown>)
        : {};
    const createFields = CREATES[route];
    const created = createFields ? firstString(body, createFields) : undefined;

    // What the request uses (reads, runs, copies or creates from, deletes) must be visible to the
    // caller; the name a request creates is judged by create's rules below instead.
    const notFound = req.url.startsWith('/v1/') ? openAiNotFound : ollamaNotFound;
    const used = modelsInRequest(req);
    if (created !== undefined) used.splice(used.indexOf(created), 1);
    if (route === 'POST /api/create') used.push(...createParents(body));
    for (const name of used) await this.ownership.assertVisible(p, name, notFound);

    let v2Name: string | undefined;
    const [ns, model, ref] = [params['namespace'], params['model'], params['reference']];
    if (v2Manifest && ns && model && ref && !/^sha256:/i.test(ref)) v2Name = `${ns}/${model}:${ref}`;
    if (v2Name && req.method !== 'PUT') await this.ownership.assertVisible(p, v2Name, ociNotFound);

    if (LISTINGS.has(route) && !isGlobalAdmin(p)) setHiddenModels(req, await this.ownership.hiddenFor(p));

    if (created !== undefined) await this.write(p, req, created, 'create');
    if (v2Name && req.method === 'PUT' && p.scopes.has('models:write'))
      await this.write(p, req, v2Name, 'create');
    if (route === DELETE_ROUTE) {
      const name = firstString(body, ['model', 'name']);
      if (name !== undefined) await this.write(p, req, name, 'delete');
    }
    return true;
  }

  private async write(
    p: Principal,
    req: FastifyRequest,
    name: string,
    kind: 'create' | 'delete',
  ): Promise<void> {
    const d: WriteDecision =
      kind === 'create'
        ? await this.ownership.authorizeCreate(p, req, name)
        : await this.ownership.authorizeDelete(p, name);
    const owner = d.owner;
    recordChange(req, {
      teamId: typeof owner === 'string' ? owner : undefined,
      detail: {
        model_owner: owner === undefined ? null : owner === null ? 'shared' : `team:${owner}`,
        ...(d.claimed ? { model_owner_new: true } : {}),
      },
    });
    // A delete, or a create refused before it wrote anything, may leave a name without a model:
    // its row goes before the response does (installOwnershipRelease), so the caller's next
    // request already sees the name free. A create that succeeded keeps its row; one that failed
    // mid-stream (pull) keeps it too: the name stays reserved for the team, never freed early.
    if (kind === 'delete' || d.claimed) {
      const r = req as unknown as Record<symbol, Pending[] | undefined>;
      (r[PENDING] ??= []).push({ name, kind });
    }
  }
}

/** Models a create builds on: `from`, and each Modelfile `FROM` (paths are not names: ignored later). */
function createParents(body: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (typeof body['from'] === 'string' && body['from'] !== '') out.push(body['from']);
  if (typeof body['modelfile'] === 'string') {
    for (const m of body['modelfile'].matchAll(/^\s*FROM\s+("?)([^\s"]+)\1\s*$/gim)) if (m[2]) out.push(m[2]);
  }
  return out;
}
