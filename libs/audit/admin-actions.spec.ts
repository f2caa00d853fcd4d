/**
 * No admin change goes unaudited by omission: this walks every controller the gateway mounts and
 * fails for a route that changes something (POST/PUT/PATCH/DELETE) without `@AdminAction(...)`,
 * unless it is listed below with the reason it needs none. A new admin handler must either name
 * its audit action or be added here on purpose.
 */
import 'reflect-metadata';
import { RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ADMIN_ACTION } from '@corral/core';
import { AppModule, type CoreServices } from '../../apps/gateway/src/app.module';

/** Mutating routes that are not admin changes, and why. */
const NOT_ADMIN_CHANGES: Record<string, string> = {
  'POST /api/generate': 'inference: api.request (+ model, tokens, content via the run observer)',
  'POST /api/chat': 'inference',
  'POST /api/embed': 'inference',
  'POST /api/embeddings': 'inference',
  'POST /api/show': 'reads a model',
  'POST /v1/chat/completions': 'inference',
  'POST /v1/completions': 'inference',
  'POST /v1/embeddings': 'inference',
  'POST /auth/login': 'auth.login / auth.failure, set by the handler (recordChange)',
  'POST /auth/logout': 'ends the caller’s own session: api.request',
  'POST /admin/v1/audit/verify': 'reads the log; records audit.verify itself',
  'POST /v1/vector_stores/:id/search': 'retrieval: reads',
  'POST /admin/v1/knowledge-bases/:id/retrieval-test': 'retrieval: reads (kept in the base’s test log)',
};

const MUTATING = new Set([RequestMethod.POST, RequestMethod.PUT, RequestMethod.PATCH, RequestMethod.DELETE]);

type ModuleLike = Type | { module: Type; imports?: unknown[]; controllers?: Type[] };

function controllersOf(m: ModuleLike, seen = new Set<unknown>()): Type[] {
  if (!m || seen.has(m)) return [];
  seen.add(m);
  const cls = typeof m === 'function' ? m : m.module;
  const dyn: { imports?: unknown[]; controllers?: Type[] } = typeof m === 'function' ? {} : m;
  const imports = [
    ...((Reflect.getMetadata(MODULE_METADATA.IMPORTS, cls) as ModuleLike[] | undefined) ?? []),
    ...((dyn.imports as ModuleLike[] | undefined) ?? []),
  ];
  const own = [
    ...((Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, cls) as Type[] | undefined) ?? []),
    ...(dyn.controllers ?? []),
  ];
  return [...own, ...imports.flatMap((i) => controllersOf(i, seen))];
}

const join = (...parts: string[]) =>
  '/' +
  parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/');

/** A route's path metadata: one path or several (`@Post(['a', 'b'])`). */
const paths = (meta: unknown): string[] =>
  Array.isArray(meta) ? (meta as string[]) : [(meta as string) ?? ''];

function mutatingRoutes(): { route: string; action?: string }[] {
  const app = AppModule.with({} as CoreServices) as ModuleLike;
  const out: { route: string; action?: string }[] = [];
  for (const c of controllersOf(app)) {
    const bases = paths(Reflect.getMetadata(PATH_METADATA, c));
    const proto = c.prototype as object;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const handler = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (typeof handler !== 'function' || name === 'constructor') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (method === undefined || !MUTATING.has(method)) continue;
      for (const base of bases)
        for (const path of paths(Reflect.getMetadata(PATH_METADATA, handler)))
          out.push({
            route: `${RequestMethod[method]} ${join(base, path)}`,
            action: Reflect.getMetadata(ADMIN_ACTION, handler) as string | undefined,
          });
    }
  }
  return out;
}

describe('admin actions', () => {
  const routes = mutatingRoutes();

  it('finds the admin API (the walk itself works)', () => {
    const names = routes.map((r) => r.route);
    for (const r of [
      'POST /admin/v1/users',
      'PATCH /admin/v1/teams/:id',
      'POST /admin/v1/keys/:id/rotate',
      'PUT /admin/v1/teams/:id/quota',
      'DELETE /api/delete',
      'PUT /admin/v1/audit/policies/:team',
    ])
      expect(names).toContain(r);
  });

  it('every mutating route names its audit action, or is known not to be an admin change', () => {
    const unaudited = routes.filter((r) => !r.action && !(r.route in NOT_ADMIN_CHANGES)).map((r) => r.route);
    expect(unaudited).toEqual([]);
  });

  it('names actions as the audit log requires (dotted lower case)', () => {
    for (const r of routes) if (r.action) expect(r.action).toMatch(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/);
  });

  it('lists no exemption that no longer exists', () => {
    const names = new Set(routes.map((r) => r.route));
    expect(Object.keys(NOT_ADMIN_CHANGES).filter((r) => !names.has(r))).toEqual([]);
  });
});
