import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { openAuditLog } from '@corral/audit';
import { CorralClient } from '../client';
import { auditRotateKeyCommand, auditVerifyCommand, renderEvents } from './audit';
import { openTestDb, sampleRequest } from '@corral/testing';

const capture = () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  return { out, text: () => text };
};

describe('corral audit verify --local', () => {
  const target = process.env.DATABASE_URL ? 'postgres' : 'pglite';
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    process.exitCode = undefined;
  });

  it(`passes on an untouched log and names the tampered event otherwise (${target})`, async () => {
    const t = await openTestDb(target);
    try {
      // CORRAL_HOME holds the signing key (and, for PGlite, the database in $CORRAL_HOME/db).
      const home = target === 'pglite' ? t.home : mkdtempSync(join(t.home, 'home-'));
      const log = await openAuditLog({ dataSource: t.db.dataSource, home });
      const ids = [1, 2, 3].map((i) => log.service.record(sampleRequest(i)));
      await log.drain();
      await log.close();
      process.env.CORRAL_HOME = home;
      if (target === 'postgres') process.env.CORRAL_DB_SCHEMA = t.schema;
      else await t.db.close(); // PGlite: one process (here: one handle) at a time

      const client = new CorralClient({ baseUrl: 'http://127.0.0.1:9' });
      const ok = capture();
      await auditVerifyCommand(client, { local: true }, ok.out);
      expect(ok.text()).toMatch(/audit log verified: 3 events \(seq 1–3\)/);
      expect(process.exitCode).toBeUndefined();

      const db = target === 'pglite' ? await openTestDbAt(t.home) : t.db;
      await db.dataSource.query(`ALTER TABLE audit_events DISABLE TRIGGER USER`);
      await db.dataSource.query(`UPDATE audit_events SET model = 'other' WHERE seq = 2`);
      if (target === 'pglite') await db.close();
      const bad = capture();
      await auditVerifyCommand(client, { local: true }, bad.out);
      expect(bad.text()).toContain(`FAILED verification at seq 2 (event ${ids[1]}): changed`);
      expect(process.exitCode).toBe(1);
    } finally {
      await t.dispose();
    }
  });
});

describe('corral audit rotate-key --local', () => {
  const target = process.env.DATABASE_URL ? 'postgres' : 'pglite';
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    process.exitCode = undefined;
  });

  it(`rotates the key files, and verify passes across the rotation (${target})`, async () => {
    const t = await openTestDb(target);
    try {
      const home = target === 'pglite' ? t.home : mkdtempSync(join(t.home, 'home-'));
      process.env.CORRAL_HOME = home;
      if (target === 'postgres') process.env.CORRAL_DB_SCHEMA = t.schema;
      let db = t.db;
      // Events under a checkpoint signed by the first key, then the server stops.
      let log = await openAuditLog({ dataSource: db.dataSource, home });
      [1, 2].forEach((i) => log.service.record(sampleRequest(i)));
      await log.drain();
      await log.appender.checkpointNow();
      const oldKey = log.signer.keyId;
      await log.close();

      const rotated = capture();
      const client = new CorralClient({ baseUrl: 'http://127.0.0.1:9' });
      await auditRotateKeyCommand(client, { local: true }, rotated.out);
      expect(rotated.text()).toContain(`audit signing key rotated: ${oldKey} → `);
      expect(rotated.text()).toContain(join(home, 'audit-keys', `${oldKey}.pem`));

      // The server starts again with the new key and signs more events with it.
      if (target === 'pglite') {
        await t.db.close();
        db = await openTestDbAt(t.home);
      }
      log = await openAuditLog({ dataSource: db.dataSource, home });
      expect(log.signer.keyId).not.toBe(oldKey);
      [3, 4].forEach((i) => log.service.record(sampleRequest(i)));
      await log.drain();
      await log.appender.checkpointNow();
      await log.close();
      if (target === 'pglite') await db.close();

      const ok = capture();
      await auditVerifyCommand(client, { local: true }, ok.out);
      expect(ok.text()).toMatch(/audit log verified: 4 events \(seq 1–4\), 2 signed checkpoints/);
      expect(process.exitCode).toBeUndefined();
    } finally {
      await t.dispose();
    }
  });
});

async function openTestDbAt(home: string) {
  const { openDatabase } = await import('@corral/persistence');
  return openDatabase({ kind: 'pglite', dataDir: join(home, 'db') }, { migrate: false });
}

describe('renderEvents', () => {
  it('prints one row per event with actor, team, action and outcome', () => {
    const text = renderEvents([
      {
        seq: 7,
        id: 'e',
        time: '2026-11-26T13:00:00.123Z',
        request_id: 'r',
        actor: { type: 'key', id: 'key_1' },
        team_id: 'team-a',
        action: 'api.request',
        resource: '/api/chat',
        route: 'POST /api/chat',
        model: 'tiny',
        outcome: { status: 429, error_code: 'rate_limited' },
        tokens: { prompt: 1, completion: 2 },
        duration_ms: 3,
        client_address: null,
        user_agent: null,
        details: null,
        hash: 'h',
      },
    ]);
    expect(text.split('\n')[0]).toMatch(/^SEQ\s+TIME\s+ACTOR\s+TEAM\s+ACTION\s+RESOURCE\s+STATUS/);
    expect(text).toMatch(
      /7\s+2026-11-26 13:00:00Z\s+key:key_1\s+team-a\s+api\.request\s+\/api\/chat \(tiny\)\s+429 rate_limited/,
    );
  });
});
