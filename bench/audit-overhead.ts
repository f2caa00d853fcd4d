/**
 * What the audit log costs. (1) Enqueue: `AuditService.record()` on the request path (validate,
 * stamp, queue in memory). (2) Append: record N events and wait until they are committed to the
 * chain (durable buffer write + fsync/XADD, appender batch insert, hashes, checkpoints), as
 * events/s and µs per event. (3) Request latency on a bare Fastify route with the audit
 * interceptor's hook against the same route without it, in one server, rounds interleaved.
 * Embedded mode (PGlite + spool) always; cluster mode (PostgreSQL + Redis Stream) when
 * DATABASE_URL is set. (4) The real gateway: two built servers (`corral serve`), one with the audit
 * log on (the default) and one with CORRAL_AUDIT=off, an authenticated GET /api/tags through the
 * whole stack (auth guard, quota, audit hook and interceptor), rounds interleaved.
 *
 * Standalone: `npm run build && node dist/bench/audit-overhead.js`. Knobs: CORRAL_BENCH_AUDIT_N
 * (events for the append test, default 5000), CORRAL_BENCH_AUDIT_SECONDS (per autocannon round,
 * default 3).
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { AuditInterceptor, openAuditLog, type AuditLog } from '@corral/audit';
import { openTestDb, type Target, sampleRequest } from '@corral/testing';
import { startCorral, type CorralServer } from './support/corral';
import { runStandalone } from './support/standalone';

type Row = Record<string, string | number>;

const N = Number(process.env.CORRAL_BENCH_AUDIT_N ?? 5000);
const SECONDS = Number(process.env.CORRAL_BENCH_AUDIT_SECONDS ?? 3);
const ROUNDS = 3;

async function appendRows(mode: string, log: AuditLog): Promise<Row[]> {
  // Warm-up: JIT, prepared paths, first checkpoint.
  for (let i = 0; i < 200; i++) log.service.record(sampleRequest(i));
  await log.drain(120_000);

  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) log.service.record(sampleRequest(i));
  const enqueueNs = Number(process.hrtime.bigint() - t0);
  await log.drain(300_000);
  const totalNs = Number(process.hrtime.bigint() - t0);
  const report = await log.verify();
  if (!report.ok) throw new Error(`chain did not verify after the benchmark: ${report.problem?.message}`);
  return [
    {
      mode,
      measure: 'enqueue (record)',
      'µs/event': (enqueueNs / N / 1000).toFixed(2),
      'events/s': Math.round(N / (enqueueNs / 1e9)),
    },
    {
      mode,
      measure: `enqueue → committed (${N} events)`,
      'µs/event': (totalNs / N / 1000).toFixed(1),
      'events/s': Math.round(N / (totalNs / 1e9)),
    },
  ];
}

async function latencyRows(mode: string, log: AuditLog): Promise<Row[]> {
  const interceptor = new AuditInterceptor(log.service);
  const app = Fastify({ logger: false });
  const handler = async () => ({ ok: true });
  app.post('/plain', handler);
  app.post('/audited', { onRequest: interceptor.hook }, handler);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const body = JSON.stringify({ model: 'tiny:latest', prompt: 'hi' });
  const once = (path: string) =>
    autocannon({
      url: url + path,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'bench' },
      body,
      duration: SECONDS,
      connections: 16,
    });
  const acc = new Map<string, { p50: number[]; p99: number[]; rps: number[] }>();
  try {
    await once('/plain');
    await once('/audited');
    for (let r = 0; r < ROUNDS; r++)
      for (const path of ['/plain', '/audited']) {
        const res = await once(path);
        const a = acc.get(path) ?? { p50: [], p99: [], rps: [] };
        a.p50.push(res.latency.p50);
        a.p99.push(res.latency.p99);
        a.rps.push(res.requests.average);
        acc.set(path, a);
      }
    await log.drain(300_000);
  } finally {
    await app.close();
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return [...acc].map(([path, a]) => ({
    mode,
    measure: `HTTP ${path === '/plain' ? 'audit off' : 'audit on'} (16 conns)`,
    'latency p50 (ms)': mean(a.p50).toFixed(2),
    'p99 (ms)': mean(a.p99).toFixed(2),
    'req/s': Math.round(mean(a.rps)),
  }));
}

/**
 * Latency of an authenticated GET /api/tags on the real gateway, audit on against off. Cluster
 * mode gives each server a schema of its own (dropped afterwards) and the shared Redis.
 */
async function gatewayRows(cluster: boolean): Promise<Row[]> {
  const servers: [string, CorralServer][] = [];
  const schemas: string[] = [];
  const envFor = (audit: 'on' | 'off'): NodeJS.ProcessEnv => {
    if (!cluster) return { CORRAL_AUDIT: audit, REDIS_URL: '' };
    const schema = `bench_audit_${audit}_${process.pid}`;
    schemas.push(schema);
    return {
      CORRAL_AUDIT: audit,
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      CORRAL_DB_SCHEMA: schema,
    };
  };
  try {
    servers.push(['audit on', await startCorral(envFor('on'))]);
    servers.push(['audit off', await startCorral(envFor('off'))]);
    const once = (s: CorralServer) =>
      autocannon({
        url: `${s.url}/api/tags`,
        headers: { ...s.auth, 'user-agent': 'bench' },
        duration: SECONDS,
        connections: 16,
      });
    for (const [, s] of servers) await once(s); // warm-up
    const acc = new Map<string, { p50: number[]; p99: number[]; rps: number[]; non2xx: number }>();
    for (let r = 0; r < ROUNDS; r++)
      for (const [name, s] of r % 2 ? [...servers].reverse() : servers) {
        const res = await once(s);
        const a = acc.get(name) ?? { p50: [], p99: [], rps: [], non2xx: 0 };
        a.p50.push(res.latency.p50);
        a.p99.push(res.latency.p99);
        a.rps.push(res.requests.average);
        a.non2xx += res.non2xx;
        acc.set(name, a);
      }
    // The audited server recorded the requests; the other recorded none.
    const seqOf = async (s: CorralServer) => {
      const r = await fetch(`${s.url}/admin/v1/audit?action=api.request&limit=1`, { headers: s.auth });
      const page = (await r.json()) as { data: { seq: number }[] };
      return page.data[0]?.seq ?? 0;
    };
    const recorded = new Map<string, number>();
    for (const [name, s] of servers) recorded.set(name, await seqOf(s));
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    return [...acc].map(([name, a]) => ({
      mode: cluster ? 'gateway (corral serve, PostgreSQL + Redis)' : 'gateway (corral serve, embedded)',
      measure: `GET /api/tags, ${name} (16 conns)`,
      'latency p50 (ms)': mean(a.p50).toFixed(2),
      'p99 (ms)': mean(a.p99).toFixed(2),
      'req/s': Math.round(mean(a.rps)),
      'events/non-2xx': `${recorded.get(name) ?? 0} / ${a.non2xx}`,
    }));
  } finally {
    for (const [, s] of servers) await s.stop();
    if (schemas.length) {
      const { Client } = await import('pg');
      const pg = new Client({ connectionString: process.env.DATABASE_URL });
      await pg.connect();
      for (const schema of schemas) await pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pg.end();
    }
  }
}

async function runMode(target: Target): Promise<Row[]> {
  const t = await openTestDb(target);
  const cluster = target === 'postgres';
  const prefix = `bench:audit:${process.pid}:`;
  const log = await openAuditLog({
    dataSource: t.db.dataSource,
    home: mkdtempSync(join(t.home, 'home-')),
    redisUrl: cluster ? (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined,
    redisPrefix: prefix,
  });
  const mode = cluster ? 'cluster (PostgreSQL + Redis Stream)' : 'embedded (PGlite + spool)';
  try {
    return [...(await appendRows(mode, log)), ...(await latencyRows(mode, log))];
  } finally {
    await log.close();
    if (cluster) {
      const { Redis } = await import('ioredis');
      const r = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      const keys = await r.keys(prefix + '*');
      if (keys.length) await r.del(...keys);
      await r.quit();
    }
    await t.dispose();
  }
}

export async function run(): Promise<{ title: string; rows: Row[] }> {
  const rows = await gatewayRows(false);
  if (process.env.DATABASE_URL) rows.push(...(await gatewayRows(true)));
  rows.push(...(await runMode('pglite')));
  if (process.env.DATABASE_URL) rows.push(...(await runMode('postgres')));
  else rows.push({ mode: 'cluster: skipped (DATABASE_URL not set)', measure: '-' });
  return {
    title: `Audit log overhead (append ${N} events; HTTP ${ROUNDS}×${SECONDS}s per variant, interleaved)`,
    rows,
  };
}

runStandalone(module, run);
