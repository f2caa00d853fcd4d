import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openAuditLog, type AuditLog } from './audit-log';
import type { DbContentPolicies } from './content';
import { REDACTED } from './redact';
import { auditTargets, openTestDb, resetAuditTables, type TestDb, sampleRequest } from '@corral/testing';

type Rows = Record<string, unknown>[];

describe.each(auditTargets())('audit log on %s', (target) => {
  let t: TestDb;
  let log: AuditLog;
  const q = (sql: string, p?: unknown[]) => t.db.dataSource.query(sql, p) as Promise<Rows>;

  let home: string;
  beforeAll(async () => {
    t = await openTestDb(target);
  });
  afterAll(() => t.dispose());
  beforeEach(async () => {
    await resetAuditTables(t);
    home = mkdtempSync(join(t.home, 'home-'));
    log = await openAuditLog({
      dataSource: t.db.dataSource,
      home,
      appender: { checkpointEvery: 5, pollMs: 20 },
    });
  });
  afterEach(() => log.close());

  it('records a request, an admin change and a failed login with every field', async () => {
    const reqId = log.service.record(sampleRequest(1, { outcome: { status: 200 } }));
    log.service.record({
      actor: { type: 'user', id: 'usr_admin' },
      action: 'key.create',
      resource: 'key:key_9',
      teamId: 'team-a',
      outcome: { status: 201 },
      before: null,
      after: { id: 'key_9', name: 'ci', secret: 'sk-live-123', keyPrefix: 'sk-live', scopes: ['inference'] },
    });
    log.service.record({
      actor: { type: 'anonymous' },
      action: 'auth.failure',
      route: '/auth/login',
      outcome: { status: 401, errorCode: 'unauthorized' },
      clientAddress: '10.0.0.7',
      detail: { login: 'mallory', password: 'guess' },
    });
    await log.drain();
    const rows = await q(`SELECT * FROM audit_events ORDER BY seq`);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({
      event_id: reqId,
      request_id: 'req-1',
      actor_type: 'key',
      actor_id: 'key_1',
      team_id: 'team-a',
      action: 'api.request',
      route: '/api/chat',
      model: 'tiny:latest',
      status: 200,
      prompt_tokens: 11,
      completion_tokens: 5,
      duration_ms: 12,
      client_address: '127.0.0.1',
      user_agent: 'ollama-js/0.6',
    });
    expect(rows[1]).toMatchObject({ action: 'key.create', actor_id: 'usr_admin', status: 201 });
    expect(rows[1]!.details).toEqual({
      before: null,
      after: { id: 'key_9', name: 'ci', secret: REDACTED, keyPrefix: 'sk-live', scopes: ['inference'] },
    });
    expect(JSON.stringify(rows)).not.toContain('sk-live-123');
    expect(rows[2]).toMatchObject({ action: 'auth.failure', status: 401, error_code: 'unauthorized' });
    expect(rows[2]!.details).toEqual({ login: 'mallory', password: REDACTED });
    expect(await log.verify()).toMatchObject({ ok: true, events: 3 });
  });

  it('creates the signing key 0600 and signs a checkpoint every N events', async () => {
    for (let i = 0; i < 12; i++) log.service.record(sampleRequest(i));
    await log.drain();
    expect(statSync(join(home, 'audit-signing.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(home, 'audit-signing.key'), 'utf8')).toContain('PRIVATE KEY');
    const cps = await q(`SELECT seq FROM audit_checkpoints ORDER BY seq`);
    expect(cps.map((c) => Number(c.seq))).toEqual([5, 10]);
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, events: 12, firstSeq: 1, lastSeq: 12 });
    expect(report).toMatchObject({ checkpoints: 2, unsigned: 2 });
  });

  it('signs a checkpoint when the oldest unsigned event is older than the interval', async () => {
    await log.close();
    log = await openAuditLog({
      dataSource: t.db.dataSource,
      home,
      appender: { checkpointEvery: 1000, checkpointIntervalMs: 300, pollMs: 20 },
    });
    for (let i = 0; i < 3; i++) log.service.record(sampleRequest(i));
    await log.drain();
    expect(await q(`SELECT seq FROM audit_checkpoints`)).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await q(`SELECT seq FROM audit_checkpoints`)).map((c) => Number(c.seq))).toEqual([3]);
    expect(await log.verify()).toMatchObject({ ok: true, checkpoints: 1, unsigned: 0 });
  });

  it('refuses UPDATE, DELETE and TRUNCATE on events', async () => {
    log.service.record(sampleRequest(1));
    await log.drain();
    await expect(q(`UPDATE audit_events SET actor_id = 'x'`)).rejects.toThrow(/append-only/);
    await expect(q(`DELETE FROM audit_events`)).rejects.toThrow(/append-only/);
    await expect(q(`TRUNCATE audit_events`)).rejects.toThrow(/append-only/);
    await expect(q(`SELECT audit_prune_segment(1)`)).rejects.toThrow(/not a checkpoint|not exported/);
    expect(await q(`SELECT actor_id FROM audit_events`)).toEqual([{ actor_id: 'key_1' }]);
  });

  describe('tampering (trigger disabled, as a superuser could)', () => {
    let ids: string[];
    beforeEach(async () => {
      ids = [];
      for (let i = 1; i <= 10; i++) ids.push(log.service.record(sampleRequest(i)));
      await log.drain();
      expect((await log.verify()).ok).toBe(true);
      await q(`ALTER TABLE audit_events DISABLE TRIGGER USER`);
    });

    it('names an edited event', async () => {
      await q(`UPDATE audit_events SET completion_tokens = 0 WHERE seq = 7`);
      expect((await log.verify()).problem).toMatchObject({ kind: 'changed', seq: 7, eventId: ids[6] });
    });

    it('names an edited event whose hash was recomputed too (the next link breaks)', async () => {
      await q(`UPDATE audit_events SET hash = repeat('a', 64) WHERE seq = 3`);
      expect((await log.verify()).problem).toMatchObject({ kind: 'changed', seq: 3, eventId: ids[2] });
    });

    it('names a deleted event', async () => {
      await q(`DELETE FROM audit_events WHERE seq = 4`);
      const r = await log.verify();
      expect(r.ok).toBe(false);
      expect(r.problem).toMatchObject({ kind: 'removed', seq: 4 });
    });

    it('names swapped events', async () => {
      await q(`UPDATE audit_events SET seq = -1 WHERE seq = 5`);
      await q(`UPDATE audit_events SET seq = 5 WHERE seq = 6`);
      await q(`UPDATE audit_events SET seq = 6 WHERE seq = -1`);
      expect((await log.verify()).problem).toMatchObject({ kind: 'reordered', seq: 5, eventId: ids[5] });
    });

    it('notices events cut from the end that a checkpoint signed', async () => {
      await q(`DELETE FROM audit_events WHERE seq >= 9`);
      expect((await log.verify()).problem).toMatchObject({ kind: 'removed', seq: 9 });
    });

    it('notices events cut from the start outside retention', async () => {
      await q(`DELETE FROM audit_events WHERE seq <= 5`);
      expect((await log.verify()).problem).toMatchObject({ kind: 'removed', seq: 5 });
    });
  });

  it('captures content only for teams whose policy turns it on, apart from events', async () => {
    const { readContent } = await import('./content');
    const policies = log.policies as DbContentPolicies;
    await policies.setPolicy('team-a', { capture: true, retentionDays: 7 });
    const a = log.service.record(sampleRequest(1));
    const b = log.service.record(sampleRequest(2));
    expect(await log.service.recordContent(a, 'team-a', [{ role: 'user', content: 'hi' }], 'Hello')).toBe(
      true,
    );
    expect(await log.service.recordContent(b, 'team-b', [{ role: 'user', content: 'hi' }], 'Hello')).toBe(
      false,
    );
    await log.drain();
    expect(await readContent(t.db.dataSource, 'team-a', a)).toMatchObject({
      prompt: [{ role: 'user', content: 'hi' }],
      response: 'Hello',
    });
    expect(await readContent(t.db.dataSource, 'team-b', a)).toBeUndefined();
    expect(await q(`SELECT event_id FROM audit_content`)).toHaveLength(1);
    expect((await log.verify()).ok).toBe(true);
  });
});
