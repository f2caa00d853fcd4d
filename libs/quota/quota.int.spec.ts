/**
 * Policies and usage accounting on the real databases: PGlite always, PostgreSQL when
 * DATABASE_URL is set (each run in its own schema).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { openDatabase, type Database } from '@corral/persistence';
import { Init1764160000000 } from '../../migrations/1764160000000-Init';
import { QuotaPolicies1764400000000 } from '../../migrations/1764400000000-QuotaPolicies';
import { UsageAccounting1764400000001 } from '../../migrations/1764400000001-UsageAccounting';
import { QuotaPolicyRepository } from './policy.repository';
import { SpoolBuffer } from '@corral/durable';
import { DurableUsageWriter, type UsageBuffer } from './usage/usage-writer';
import { UsageRepository, usageCsv } from './usage/usage.repository';
import type { UsageRecord } from './usage/usage.types';

type Cfg = { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };
const targets: [string, () => Cfg][] = [
  ['pglite', () => ({ kind: 'pglite', dataDir: mkdtempSync(join(tmpdir(), 'corral-quota-')) })],
];
if (process.env.DATABASE_URL)
  targets.push(['postgres', () => ({ kind: 'postgres', url: process.env.DATABASE_URL! })]);
else console.log('DATABASE_URL not set: quota persistence tests run on PGlite only');

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

describe.each(targets)('quota persistence on %s', (_name, cfgFor) => {
  let db: Database;
  const schema = `quota_${process.pid}_${Date.now()}`;
  const cfg = cfgFor();
  beforeAll(async () => {
    db = await openDatabase(cfg, {
      migrations: [Init1764160000000, QuotaPolicies1764400000000, UsageAccounting1764400000001],
      schema,
    });
  });
  afterAll(async () => {
    if (cfg.kind === 'postgres') await db.dataSource.query(`DROP SCHEMA "${schema}" CASCADE`);
    await db.close();
    if (cfg.kind === 'pglite') rmSync(cfg.dataDir, { recursive: true, force: true });
  });

  it('stores, replaces and deletes team and key policies', async () => {
    const repo = new QuotaPolicyRepository(db.dataSource);
    const team = randomUUID();
    expect(await repo.getTeam(team)).toBeUndefined();
    await repo.putTeam(team, {
      requestsPerMinute: 60,
      dailyTokens: 1e12,
      allowedModels: ['tiny', 'llama3:8b'],
      weight: 2.5,
    });
    expect(await repo.getTeam(team)).toEqual({
      requestsPerMinute: 60,
      dailyTokens: 1e12,
      allowedModels: ['tiny', 'llama3:8b'],
      weight: 2.5,
    });
    await repo.putTeam(team, { tokensPerMinute: 1000 });
    expect(await repo.getTeam(team)).toEqual({ tokensPerMinute: 1000, weight: 1 });
    await repo.putKey('key-1', { concurrentRequests: 2, priority: 'batch' });
    expect(await repo.getKey('key-1')).toEqual({ concurrentRequests: 2, priority: 'batch' });
    expect(await repo.deleteKey('key-1')).toBe(true);
    expect(await repo.deleteKey('key-1')).toBe(false);
    expect(await repo.getKey('key-1')).toBeUndefined();
    // The table refuses what the API would refuse, should anything bypass it.
    await expect(
      db.dataSource.query(`INSERT INTO quota_team_policy (team_id, daily_tokens) VALUES ('x', -1)`),
    ).rejects.toThrow();
  });

  it('writes usage into monthly partitions, and rollups equal the sum of the raw records', async () => {
    const repo = new UsageRepository(db.dataSource);
    const spool: UsageBuffer = await SpoolBuffer.open({
      dir: mkdtempSync(join(tmpdir(), 'corral-usage-spool-')),
    });
    const writer = new DurableUsageWriter(spool, repo, { batchSize: 137, pollMs: 20 });
    writer.start();
    const start = Date.UTC(2026, 8, 28, 0, 0, 0); // 28 Sep 2026: spans Sep, Oct and Nov
    const span = 62 * 86_400_000;
    const records: UsageRecord[] = Array.from({ length: 1500 }, (_, i) => ({
      ts: new Date(start + Math.floor(Math.random() * span)),
      requestId: `req-${i}`,
      teamId: pick(['t1', 't2', 't3']),
      keyId: pick(['k1', 'k2', undefined]),
      userId: pick(['u1', 'u2', 'u3', undefined]),
      model: pick(['tiny:latest', 'llama3:8b']),
      promptTokens: Math.floor(Math.random() * 3000),
      completionTokens: Math.floor(Math.random() * 1000),
      ttftMs: pick([undefined, 5, 120, 900]),
      durationMs: Math.floor(Math.random() * 20_000),
      status: pick(['ok', 'ok', 'ok', 'error', 'cancelled'] as const),
    }));
    for (const r of records) writer.record(r);
    await writer.flush();
    await writer.close();
    expect(writer.written).toBe(1500);
    // A batch retried after a lost acknowledgement must not count twice.
    expect(await repo.insertBatch(records.slice(0, 200))).toBe(0);

    const parts = (await db.dataSource.query(
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM usage_record GROUP BY 1 ORDER BY 1`,
    )) as { part: string; n: number }[];
    expect(parts.map((p) => p.part.replace(/^.*\./, ''))).toEqual([
      'usage_record_p202609',
      'usage_record_p202610',
      'usage_record_p202611',
    ]);
    expect(parts.reduce((s, p) => s + p.n, 0)).toBe(1500);

    const range = { from: new Date(start), to: new Date(start + span + 3_600_000) };
    for (const [groupBy, granularity] of [
      [['team', 'key', 'user', 'model'], 'hour'],
      [['team'], 'day'],
      [['key', 'model'], 'month'],
      [['user'], 'total'],
      [[], 'total'],
    ] as const) {
      const q = { ...range, groupBy: [...groupBy], granularity };
      const rolled = await repo.query(q);
      expect(rolled.length).toBeGreaterThan(0);
      expect(rolled).toEqual(await repo.query(q, 'usage_record'));
    }
    const [total] = await repo.query({ ...range, groupBy: [], granularity: 'total' });
    expect(total).toMatchObject({
      requests: 1500,
      errors: records.filter((r) => r.status !== 'ok').length,
      promptTokens: records.reduce((s, r) => s + r.promptTokens, 0),
      completionTokens: records.reduce((s, r) => s + r.completionTokens, 0),
    });
    const t2 = await repo.query({ ...range, groupBy: ['model'], granularity: 'total', teamId: 't2' });
    expect(t2.reduce((s, r) => s + r.requests, 0)).toBe(records.filter((r) => r.teamId === 't2').length);
    const csv = usageCsv(t2, ['model'], false).split('\r\n');
    expect(csv[0]).toBe(
      'model,requests,errors,promptTokens,completionTokens,totalTokens,avgDurationMs,avgTtftMs',
    );
    expect(csv[1]).toMatch(/^(tiny:latest|llama3:8b),\d+,\d+,\d+,\d+,\d+,\d+,\d*$/);
  });
});
