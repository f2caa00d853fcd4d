/**
 * Usage records survive what the request path must not wait for: a gateway that crashes before
 * its records reach the database (they are in the spool and written by the next start), and a
 * PostgreSQL outage (a proxy cuts the connections; records wait in the durable buffer, local spool
 * or Redis Stream, and arrive when the database returns). PGlite runs in-process and cannot become
 * unreachable, so the outage test needs DATABASE_URL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisLeader, RedisStreamBuffer, SpoolBuffer } from '@corral/durable';
import { openDatabase, type Database } from '@corral/persistence';
import { Init1764160000000 } from '../../../migrations/1764160000000-Init';
import { UsageAccounting1764400000001 } from '../../../migrations/1764400000001-UsageAccounting';
import { TcpProxy } from '@corral/testing';
import { DurableUsageWriter, type UsageBuffer } from './usage-writer';
import { UsageRepository } from './usage.repository';
import type { UsageRecord } from './usage.types';

const DB = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const migrations = [Init1764160000000, UsageAccounting1764400000001];

const rec = (i: number, tag: string): UsageRecord => ({
  ts: new Date(Date.UTC(2026, 10, 26, 12, 0, 0) + i * 1000),
  requestId: `${tag}-${i}`,
  teamId: 'team-a',
  keyId: i % 2 ? 'key-1' : undefined,
  model: 'tiny:latest',
  promptTokens: 10 + i,
  completionTokens: i % 7,
  ttftMs: 5,
  durationMs: 20,
  status: i % 5 === 0 ? 'error' : 'ok',
});

async function rawTotals(db: Database, tag: string) {
  const [r] = (await db.dataSource.query(
    `SELECT count(*)::int AS n, coalesce(sum(prompt_tokens + completion_tokens), 0)::int AS tokens
       FROM usage_record WHERE request_id LIKE $1`,
    [`${tag}-%`],
  )) as { n: number; tokens: number }[];
  return r!;
}

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('usage records after a gateway crash (spool, PGlite)', () => {
  let db: Database;
  const dir = mkdtempSync(join(tmpdir(), 'corral-usage-crash-'));
  beforeAll(async () => {
    db = await openDatabase({ kind: 'pglite', dataDir: join(dir, 'db') }, { migrations });
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes at the next start what a crashed gateway had only spooled', async () => {
    const repo = new UsageRepository(db.dataSource);
    const spoolDir = join(dir, 'usage-spool');
    // The first gateway spools 40 records and dies before its writer ran (never started, never closed).
    const crashed = new DurableUsageWriter(await SpoolBuffer.open({ dir: spoolDir }), repo);
    for (let i = 0; i < 40; i++) crashed.record(rec(i, 'crash'));
    await crashed.buffered();
    expect(await rawTotals(db, 'crash')).toEqual({ n: 0, tokens: 0 });

    const next = new DurableUsageWriter(await SpoolBuffer.open({ dir: spoolDir }), repo, { pollMs: 20 });
    next.start();
    await until('the spooled records', async () => (await rawTotals(db, 'crash')).n === 40);
    await next.close();
    const expected = Array.from({ length: 40 }, (_, i) => rec(i, 'crash'));
    expect(await rawTotals(db, 'crash')).toEqual({
      n: 40,
      tokens: expected.reduce((s, r) => s + r.promptTokens + r.completionTokens, 0),
    });
  });
});

const maybe = DB ? describe : describe.skip;
if (!DB) console.log('DATABASE_URL not set: the usage database outage test is skipped');

maybe.each([['spool'], ['redis-stream']])('usage records through a database outage (%s)', (mode) => {
  let proxy: TcpProxy;
  let viaProxy: Database;
  let direct: Database;
  let redis: Redis | undefined;
  let buffer: UsageBuffer;
  let writer: DurableUsageWriter;
  const schema = `usage_outage_${process.pid}_${Date.now()}`;
  const prefix = `corral-test:${process.pid}:${Date.now()}:usage:`;
  const home = mkdtempSync(join(tmpdir(), 'corral-usage-outage-'));

  beforeAll(async () => {
    direct = await openDatabase({ kind: 'postgres', url: DB! }, { migrations, schema });
    const u = new URL(DB!);
    proxy = new TcpProxy(u.hostname, Number(u.port || 5432));
    await proxy.start();
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    viaProxy = await openDatabase({ kind: 'postgres', url: u.toString() }, { migrations, schema });
    if (mode === 'redis-stream') {
      redis = new Redis(REDIS_URL);
      buffer = new RedisStreamBuffer({ redis, prefix });
    } else buffer = await SpoolBuffer.open({ dir: join(home, 'usage-spool') });
    writer = new DurableUsageWriter(buffer, new UsageRepository(viaProxy.dataSource), {
      pollMs: 20,
      maxBackoffMs: 200,
      ...(redis ? { leader: new RedisLeader({ redis, prefix }) } : {}),
    });
    writer.start();
  });
  afterAll(async () => {
    proxy.up();
    await writer?.close();
    await viaProxy?.close().catch(() => undefined);
    await proxy?.close();
    await direct?.dataSource.query(`DROP SCHEMA "${schema}" CASCADE`);
    await direct?.close();
    if (redis) {
      await (buffer as RedisStreamBuffer).destroy();
      await redis.del(`${prefix}audit:leader`);
      await redis.quit();
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('records made while the database is unreachable arrive when it returns, each once', async () => {
    for (let i = 0; i < 20; i++) writer.record(rec(i, mode));
    await until('the first records', async () => (await rawTotals(direct, mode)).n === 20);

    proxy.down();
    for (let i = 20; i < 70; i++) writer.record(rec(i, mode));
    // record() returned at once; the writer is failing and the records wait in the buffer.
    await until('the writer to notice the outage', () => Promise.resolve(writer.lastError !== undefined));
    await writer.buffered();
    expect(await buffer.pending()).toBe(50);
    expect((await rawTotals(direct, mode)).n).toBe(20);

    proxy.up();
    await until('the buffered records', async () => (await rawTotals(direct, mode)).n === 70);
    const all = Array.from({ length: 70 }, (_, i) => rec(i, mode));
    expect(await rawTotals(direct, mode)).toEqual({
      n: 70,
      tokens: all.reduce((s, r) => s + r.promptTokens + r.completionTokens, 0),
    });
    // The hourly rollup holds exactly the raw records.
    const [hourly] = (await direct.dataSource.query(
      `SELECT sum(requests)::int AS requests, sum(errors)::int AS errors,
              sum(prompt_tokens + completion_tokens)::int AS tokens FROM usage_hourly`,
    )) as { requests: number; errors: number; tokens: number }[];
    expect(hourly).toEqual({
      requests: 70,
      errors: all.filter((r) => r.status !== 'ok').length,
      tokens: all.reduce((s, r) => s + r.promptTokens + r.completionTokens, 0),
    });
    await until('the buffer to drain', async () => (await buffer.pending()) === 0);
  });
});
