/**
 * The admin API's OpenAPI 3.1 document, generated from the routes the application registers, so it
 * cannot drift: `AdminApiDocument` walks every controller Nest knows (DiscoveryService), takes each
 * `/admin/v1` route's method and path from the same metadata Nest's router uses, its scopes from
 * `@Scopes`, and its summary and zod schemas from `@AdminDoc` beside the handler (z.toJSONSchema
 * emits JSON Schema 2020-12, which OpenAPI 3.1 uses as is). A route without `@AdminDoc` still
 * appears, with its path, method and scopes. `openapi.spec.ts` (apps/gateway) compares the document
 * with the routes Fastify registered.
 */
import { Injectable, RequestMethod, SetMetadata } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { z } from 'zod';
import { IS_PUBLIC } from '@corral/common';
import { SCOPES_METADATA } from '../scopes';

/** What a handler declares about itself for the document. */
export interface AdminDocOptions {
  summary: string;
  /** Query parameters: an object schema (its input side is documented). */
  query?: z.ZodType;
  body?: z.ZodType;
  response?: z.ZodType;
  /** The success status. Defaults to 200. */
  status?: number;
  /** A response that is not JSON (a CSV or NDJSON export, say): its media types. */
  produces?: string[];
}

export const ADMIN_DOC = 'corral:adminDoc';

/** Documents an admin route: summary and the zod schemas its handler validates with. */
export const AdminDoc = (doc: AdminDocOptions) => SetMetadata(ADMIN_DOC, doc);

/** One registered route, as the document sees it. */
export interface RouteInfo {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Nest/Fastify form: `/admin/v1/teams/:id`. */
  path: string;
  scopes: string[];
  public: boolean;
  doc?: AdminDocOptions;
}

const METHODS: Partial<Record<RequestMethod, RouteInfo['method']>> = {
  [RequestMethod.GET]: 'get',
  [RequestMethod.POST]: 'post',
  [RequestMethod.PUT]: 'put',
  [RequestMethod.PATCH]: 'patch',
  [RequestMethod.DELETE]: 'delete',
};

const asList = (v: unknown): string[] =>
  Array.isArray(v) ? (v as string[]) : [typeof v === 'string' ? v : ''];

/** Joins a controller and a handler path the way Nest's router does (one leading slash, none trailing). */
export function joinRoutePath(controller: string, handler: string): string {
  const p = `/${controller}/${handler}`.replace(/\/+/g, '/');
  return p.length > 1 ? p.replace(/\/$/, '') : p;
}

/** Every route of every controller in the application. */
export function collectRoutes(discovery: DiscoveryService, scanner = new MetadataScanner()): RouteInfo[] {
  const reflector = new Reflector();
  const out: RouteInfo[] = [];
  for (const wrapper of discovery.getControllers()) {
    const type = wrapper.metatype as (new (...a: never[]) => unknown) | undefined;
    if (!type?.prototype) continue;
    const proto = type.prototype as Record<string, unknown>;
    const bases = asList(Reflect.getMetadata(PATH_METADATA, type));
    for (const name of scanner.getAllMethodNames(proto)) {
      const handler = proto[name] as (...a: unknown[]) => unknown;
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as unknown;
      if (paths === undefined) continue; // not a route handler
      const method = METHODS[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      if (!method) continue;
      const scopes =
        reflector.getAllAndOverride<string[] | undefined>(SCOPES_METADATA, [handler, type]) ?? [];
      const isPublic = reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [handler, type]) === true;
      const doc = reflector.get<AdminDocOptions | undefined>(ADMIN_DOC, handler);
      for (const base of bases)
        for (const p of asList(paths))
          out.push({ method, path: joinRoutePath(base, p), scopes, public: isPublic, doc });
    }
  }
  return out;
}

const ErrorBody = z.object({ error: z.string() });

function schema(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** `/admin/v1/teams/:id` → `/admin/v1/teams/{id}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

/** The document for the `/admin/v1` routes among `routes`. */
export function buildOpenApi(version: string, routes: readonly RouteInfo[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const admin = routes
    .filter((r) => r.path === '/admin/v1' || r.path.startsWith('/admin/v1/'))
    .sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  for (const r of admin) {
    const path = openApiPath(r.path);
    const doc = r.doc;
    const parameters: unknown[] = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (doc?.query) {
      const q = schema(doc.query, 'input');
      const required = new Set((q.required as string[] | undefined) ?? []);
      for (const [name, s] of Object.entries((q.properties ?? {}) as Record<string, Record<string, unknown>>))
        parameters.push({
          name,
          in: 'query',
          required: required.has(name),
          schema: s,
          description: s.description,
        });
    }
    const status = String(doc?.status ?? 200);
    const ok = doc?.response
      ? { description: 'OK', content: { 'application/json': { schema: schema(doc.response, 'output') } } }
      : status === '204'
        ? { description: 'No content' }
        : { description: 'OK' };
    if (doc?.produces)
      (ok as { content?: Record<string, unknown> }).content = {
        ...(ok as { content?: Record<string, unknown> }).content,
        ...Object.fromEntries(doc.produces.map((t) => [t, { schema: { type: 'string' } }])),
      };
    const responses: Record<string, unknown> = {
      [status]: ok,
      '400': {
        description: 'Invalid input (the message names the field)',
        content: { 'application/json': { schema: schema(ErrorBody, 'output') } },
      },
      ...(r.public ? {} : { '401': { description: 'Missing or invalid credentials' } }),
      ...(r.public ? {} : { '403': { description: 'Missing scope or role' } }),
      '404': { description: 'Not found (including resources of other teams)' },
    };
    if (r.method === 'post' && status === '201') responses['409'] = { description: 'Duplicate name' };
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: doc?.summary ?? `${r.method.toUpperCase()} ${path}`,
      'x-corral-scopes': r.scopes,
      ...(r.public ? { security: [] } : {}),
      parameters,
      ...(doc?.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schema(doc.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Corral admin API', version },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'API key (crl_…) with the admin scope' },
        apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
        session: { type: 'apiKey', in: 'cookie', name: 'corral_session' },
      },
    },
    security: [{ bearer: [] }, { apiKey: [] }, { session: [] }],
    paths,
  };
}

/** The document of this application, built once from its routes on first use. */
@Injectable()
export class AdminApiDocument {
  private doc?: Record<string, unknown>;

  constructor(private readonly discovery: DiscoveryService) {}

  get(version = '1.0.0'): Record<string, unknown> {
    return (this.doc ??= buildOpenApi(version, collectRoutes(this.discovery)));
  }
}
