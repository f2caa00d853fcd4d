/**
 * /admin/v1/openapi.json describes exactly the admin routes the application registers: the test
 * collects every route Fastify registers under /admin/v1 in the real Nest application and compares
 * it with the document served, both ways (no route missing, no path documented that is not served,
 * methods equal). It also checks that the declared zod schemas made it in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@corral/config';
import { openDatabase, type Database } from '@corral/persistence';
import { createRegistry } from '@corral/registry';
import { Scheduler, WorkerPool } from '@corral/dispatch';
import { openApiPath } from '@corral/auth';
import { MIGRATIONS } from '../../../migrations';
import { AppModule } from './app.module';

let home: string;
let database: Database;
let app: NestFastifyApplication;
let base: string;
const registered = new Set<string>();

interface Operation {
  summary: string;
  'x-corral-scopes': string[];
  parameters: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
}
type Doc = { paths: Record<string, Record<string, Operation>> };

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'corral-openapi-'));
  const config = loadConfig({ CORRAL_HOME: home });
  database = await openDatabase({ kind: 'pglite', dataDir: join(home, 'db') }, { migrations: MIGRATIONS });
  const registry = createRegistry({ modelsDir: join(home, 'models') });
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
      for (const m of Array.isArray(r.method) ? r.method : [r.method])
        // Fastify adds a HEAD beside every GET by itself; the document lists the GET.
        if (m !== 'HEAD' && (r.url === '/admin/v1' || r.url.startsWith('/admin/v1/')))
          registered.add(`${m.toLowerCase()} ${openApiPath(r.url)}`);
    });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpAdapter().getInstance().server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 60_000);

afterAll(async () => {
  await app?.close();
  await database?.close();
  rmSync(home, { recursive: true, force: true });
});

async function doc(): Promise<Doc> {
  const res = await fetch(`${base}/admin/v1/openapi.json`);
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

it('documents every registered /admin/v1 route with its method, and nothing else', async () => {
  const d = await doc();
  const documented = new Set<string>();
  for (const [path, ops] of Object.entries(d.paths))
    for (const method of Object.keys(ops)) documented.add(`${method} ${path}`);
  expect([...documented].sort()).toEqual([...registered].sort());
  // The walk saw the whole admin surface, the features outside @corral/auth included.
  expect([...registered]).toEqual(
    expect.arrayContaining([
      'get /admin/v1/audit',
      'post /admin/v1/audit/verify',
      'put /admin/v1/teams/{id}/quota',
      'delete /admin/v1/keys/{id}/quota',
      'get /admin/v1/usage',
      'get /admin/v1/workers',
      'get /admin/v1/openapi.json',
    ]),
  );
  expect(registered.size).toBeGreaterThanOrEqual(30);
});

it('carries the scopes, path parameters and declared schemas', async () => {
  const { paths } = await doc();
  for (const [path, ops] of Object.entries(paths))
    for (const op of Object.values(ops)) {
      expect(op.summary).toBeTruthy();
      const names = op.parameters.filter((p) => p.in === 'path').map((p) => p.name);
      expect(names).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]));
    }
  expect(paths['/admin/v1/workers']!.get!['x-corral-scopes']).toEqual(['admin']);
  expect(paths['/admin/v1/openapi.json']!.get!['x-corral-scopes']).toEqual([]);
  const keyBody = paths['/admin/v1/keys']!.post!.requestBody!.content['application/json']!.schema;
  expect(keyBody.properties).toHaveProperty('scopes');
  const quota = paths['/admin/v1/teams/{id}/quota']!.put!.requestBody!.content['application/json']!.schema;
  expect(quota.properties).toHaveProperty('tokensPerMinute');
  const auditQuery = paths['/admin/v1/audit']!.get!.parameters.map((p) => p.name);
  expect(auditQuery).toEqual(expect.arrayContaining(['team', 'action', 'cursor', 'format']));
  const usageQuery = paths['/admin/v1/usage']!.get!.parameters.map((p) => p.name);
  expect(usageQuery).toEqual(expect.arrayContaining(['from', 'to', 'groupBy', 'granularity']));
  expect(paths['/admin/v1/users']!.get!.responses['200']!.content!['application/json']).toBeDefined();
});
