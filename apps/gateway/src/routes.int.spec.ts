/**
 * Every route of the real Nest application is guarded unless it is one of the few public ones:
 * the test collects each route Fastify registers and calls it without credentials. A new route
 * that forgets auth fails here (the guard is global, so this would take an explicit @Public()).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';
import { loadConfig } from '@corral/config';
import { openDatabase, type Database } from '@corral/persistence';
import { createRegistry } from '@corral/registry';
import { Scheduler, WorkerPool } from '@corral/dispatch';
import { MIGRATIONS } from '../../../migrations';
import { AppModule } from './app.module';

/** The only routes anyone may call without credentials. */
const PUBLIC = new Set([
  'GET /',
  'HEAD /',
  'GET /api/version',
  'HEAD /api/version',
  'POST /auth/login',
  'GET /admin/v1/openapi.json',
  'HEAD /admin/v1/openapi.json',
  // OIDC single sign-on (libs/auth/oidc): public by nature; 404 while CORRAL_OIDC_ISSUER is unset.
  'GET /auth/oidc/login',
  'HEAD /auth/oidc/login',
  'GET /auth/oidc/callback',
  'HEAD /auth/oidc/callback',
]);

let home: string;
let database: Database;
let app: NestFastifyApplication;
let base: string;
const routes: RouteOptions[] = [];

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'corral-routes-'));
  const config = loadConfig({ CORRAL_HOME: home });
  database = await openDatabase({ kind: 'pglite', dataDir: join(home, 'db') }, { migrations: MIGRATIONS });
  const registry = createRegistry({ modelsDir: join(home, 'models') });
  // A pool that is never started: no worker is needed to prove the guard answers first.
  const scheduler = new Scheduler(new WorkerPool({ count: 0 }), {
    maxLoadedModels: 1,
    maxQueue: 1,
    loadTimeoutMs: 1000,
  });
  app = await NestFactory.create<NestFastifyApplication>(
    AppModule.with({ config, database, registry, scheduler }),
    new FastifyAdapter(),
    { logger: false },
  );
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (r) => {
      routes.push(r);
    });
  // Real HTTP rather than fastify.inject (light-my-request pulls an ESM-only package Jest cannot load).
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpAdapter().getInstance().server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 60_000);

afterAll(async () => {
  await app?.close();
  await database?.close();
  rmSync(home, { recursive: true, force: true });
});

it('guards every registered route except the public ones', async () => {
  const seen: string[] = [];
  const open: string[] = [];
  for (const r of routes) {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const method of methods) {
      const id = `${method} ${r.url}`;
      seen.push(id);
      const url = r.url.replace(/:[A-Za-z_]+/g, 'x').replace(/\*$/, 'x');
      const withBody = !['GET', 'HEAD', 'OPTIONS'].includes(method);
      const res = await fetch(base + url, {
        method,
        ...(withBody ? { body: '{"model":"m"}', headers: { 'content-type': 'application/json' } } : {}),
      });
      await res.arrayBuffer();
      if (res.status !== 401 && !PUBLIC.has(id)) open.push(`${id} answered ${res.status}`);
      if (PUBLIC.has(id) && res.status === 401) open.push(`${id} should be public`);
    }
  }
  expect(open).toEqual([]);
  // The walk really covered the application (a broken walk must not pass by seeing nothing).
  expect(seen).toEqual(
    expect.arrayContaining([
      'POST /api/chat',
      'POST /v1/chat/completions',
      'GET /v1/models',
      'POST /admin/v1/keys',
      'DELETE /admin/v1/teams/:id/members/:userId',
      ...PUBLIC,
    ]),
  );
  expect(seen.length).toBeGreaterThan(40);
});
