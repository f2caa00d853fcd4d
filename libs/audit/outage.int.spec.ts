/**
 * PostgreSQL goes away in the middle of traffic (a proxy cuts the connections) and comes back:
 * every event recorded meanwhile waits in the buffer and is written, in order, when it returns;
 * content captured meanwhile (under the capture policy last read) waits and is written too.
 * Runs with the local spool and, in cluster mode, with the Redis Stream shared by two gateways.
 * PGlite runs in-process and cannot become unreachable, so this test needs DATABASE_URL.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { openAuditLog, type AuditLog } from './audit-log';
import { DbContentPolicies } from './content';
import { openTestDb, type TestDb, sampleRequest, TcpProxy } from '@corral/testing';

const DB = process.env.DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const maybe = DB ? describe : describe.skip;
if (!DB) console.log('DATABASE_URL not set: the database outage test is skipped');

maybe.each([['spool'], ['redis-stream, two gateways']])('audit through a database outage (%s)', (mode) => {
  let proxy: TcpProxy;
  let t: TestDb;
  const logs: AuditLog[] = [];
  const prefix = `corral-test:${process.pid}:${Date.now()}:`;
  const cluster = mode.startsWith('redis');

  beforeAll(async () => {
    const u = new URL(DB!);
    proxy = new TcpProxy(u.hostname, Number(u.port || 5432));
    await proxy.start();
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    t = await openTestDb('postgres', u.toString());
    const home = mkdtempSync(join(t.home, 'home-'));
    for (let i = 0; i < (cluster ? 2 : 1); i++)
      logs.push(
        await openAuditLog({
          dataSource: t.db.dataSource,
          home, // one signing key for the installation
          spoolDir: join(home, `spool-${i}`),
          redisUrl: cluster ? REDIS_URL : undefined,
          redisPrefix: prefix,
          appender: { pollMs: 20, maxBackoffMs: 200, checkpointEvery: 25 },
          // Policies re-read every 50 ms, so the outage outlives the cache.
          policies: new DbContentPolicies(t.db.dataSource, 50),
        }),
      );
  });
  afterAll(async () => {
    for (const l of logs) await l.close();
    await proxy.close();
    await t.dispose();
    if (cluster) {
      const r = new Redis(REDIS_URL);
      const keys = await r.keys(prefix + '*');
      if (keys.length) await r.del(...keys);
      await r.quit();
    }
  });

  it('loses nothing, keeps the order, and the chain verifies', async () => {
    const sent: string[] = [];
    const send = (n: number) => {
      for (let i = 0; i < n; i++) {
        const log = logs[sent.length % logs.length]!;
        sent.push(log.service.record(sampleRequest(sent.length)));
      }
    };
    for (let k = 0; k < 5; k++) {
      send(10);
      await sleep(20);
    }
    await (logs[0]!.policies as DbContentPolicies).setPolicy('team-cap', { capture: true, retentionDays: 7 });
    // Each gateway reads the policy once while the database is up.
    const captured: string[] = [];
    for (const l of logs) {
      expect(await l.service.recordContent(sent[captured.length]!, 'team-cap', 'before', 'up')).toBe(true);
      captured.push(sent[captured.length]!);
    }
    await Promise.all(logs.map((l) => l.service.flush()));
    proxy.down();
    for (let k = 0; k < 10; k++) {
      send(10);
      await sleep(30);
    }
    // Content captured during the outage: the policy last read still applies, and it waits too.
    for (let i = 60; i < 70; i++) {
      const l = logs[i % logs.length]!;
      expect(await l.service.recordContent(sent[i]!, 'team-cap', { prompt: i }, { text: i })).toBe(true);
      captured.push(sent[i]!);
    }
    // The appender has noticed: it is failing, and the events are still buffered.
    const leader = logs.find((l) => l.appender.lastError) ?? logs[0]!;
    expect(leader.appender.lastError).toBeTruthy();
    expect(await leader.buffer.pending()).toBeGreaterThan(0);
    proxy.up();
    send(50);
    for (const l of logs) await l.drain(60_000);

    const rows = (await t.db.dataSource.query(`SELECT event_id FROM audit_events ORDER BY seq`)) as {
      event_id: string;
    }[];
    const written = rows.map((r) => r.event_id);
    expect(written).toHaveLength(sent.length);
    const content = (await t.db.dataSource.query(`SELECT event_id FROM audit_content`)) as {
      event_id: string;
    }[];
    expect(new Set(content.map((c) => c.event_id))).toEqual(new Set(captured));
    expect(new Set(written)).toEqual(new Set(sent));
    // Each gateway's own events keep their order (across gateways, buffer order is arrival order).
    for (let g = 0; g < logs.length; g++) {
      const mine = sent.filter((_, i) => i % logs.length === g);
      expect(written.filter((id) => mine.includes(id))).toEqual(mine);
    }
    // One appender for the installation: with two gateways, only the lock holder wrote.
    expect(logs.filter((l) => l.appender.written > 0)).toHaveLength(1);
    const report = await logs[0]!.verify();
    expect(report).toMatchObject({ ok: true, events: sent.length });
    expect(report.checkpoints).toBeGreaterThanOrEqual(Math.floor(sent.length / 25));
  });
});
