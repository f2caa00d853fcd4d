/**
 * Signing-key rotation and scheduled retention, on a real audit log and database.
 * Rotation: checkpoints signed before and after a rotation verify (the old public key is kept),
 * also with the keys read back from disk as a fresh process would; a verifier that does not trust
 * the old key names its checkpoint. Retention: the appender, as leader, exports old segments and
 * only then deletes them, on its own schedule, and the rest still verifies.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openAuditLog, signerFor, type AuditLog } from './audit-log';
import { signerFromKey, signingKeyPath } from './signing';
import { createPrivateKey } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyAuditLog } from './verify';
import { auditTargets, openTestDb, resetAuditTables, type TestDb, sampleRequest } from '@corral/testing';

describe.each(auditTargets())('audit key rotation and scheduled retention on %s', (target) => {
  let t: TestDb;
  let log: AuditLog | undefined;
  let home: string;
  const q = (sql: string, p?: unknown[]) =>
    t.db.dataSource.query(sql, p) as Promise<Record<string, unknown>[]>;

  beforeAll(async () => {
    t = await openTestDb(target);
  });
  afterAll(() => t.dispose());
  beforeEach(async () => {
    await resetAuditTables(t);
    home = mkdtempSync(join(t.home, 'home-'));
  });
  afterEach(async () => {
    await log?.close();
    log = undefined;
  });

  it('verifies across a rotation, with the old public key kept and the new key in place', async () => {
    log = await openAuditLog({
      dataSource: t.db.dataSource,
      home,
      appender: { checkpointEvery: 3, pollMs: 20 },
    });
    for (let i = 0; i < 4; i++) log.service.record(sampleRequest(i));
    await log.drain();
    const oldKeyPem = readFileSync(signingKeyPath(home), 'utf8');
    const oldId = log.signer.keyId;

    const r = await log.rotateKey();
    expect(r.previousKeyId).toBe(oldId);
    expect(r.keyId).not.toBe(oldId);
    expect(log.signer.keyId).toBe(r.keyId);
    expect(existsSync(r.retiredKeyFile)).toBe(true);
    expect(readFileSync(r.retiredKeyFile, 'utf8')).toContain('BEGIN PUBLIC KEY');
    expect(readFileSync(signingKeyPath(home), 'utf8')).not.toBe(oldKeyPem);
    expect(statSync(signingKeyPath(home)).mode & 0o777).toBe(0o600);

    for (let i = 4; i < 10; i++) log.service.record(sampleRequest(i));
    await log.drain();
    await log.appender.checkpointNow();
    const keys = (await q(`SELECT key_id FROM audit_checkpoints ORDER BY seq`)).map((x) => x.key_id);
    expect(keys).toContain(oldId);
    expect(keys).toContain(r.keyId);

    expect(await log.verify()).toMatchObject({ ok: true, events: 10 });
    // A fresh process reads the new key and the kept public key from $CORRAL_HOME.
    expect(await verifyAuditLog(t.db.dataSource, signerFor(home))).toMatchObject({ ok: true, events: 10 });
    // Without the old public key, its checkpoints are not trusted, and verify says which.
    const newOnly = signerFromKey(createPrivateKey(readFileSync(signingKeyPath(home))));
    const report = await verifyAuditLog(t.db.dataSource, newOnly);
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ kind: 'checkpoint' });
    expect(report.problem?.message).toContain(oldId);
  });

  it('refuses to rotate a mounted key', async () => {
    const keyFile = signingKeyPath(mkdtempSync(join(t.home, 'mounted-')));
    signerFor(join(keyFile, '..')); // creates a key there, as an operator would have mounted it
    log = await openAuditLog({ dataSource: t.db.dataSource, home, keyFile });
    await expect(log.rotateKey()).rejects.toThrow(/mounted/);
  });

  it('exports, then deletes old segments on its own schedule; the rest verifies', async () => {
    const exportDir = join(home, 'archive');
    log = await openAuditLog({
      dataSource: t.db.dataSource,
      home,
      appender: { checkpointEvery: 5, pollMs: 20 },
      retention: { days: 30, exportDir, intervalMs: 100 },
    });
    const day = 86_400_000;
    for (let i = 1; i <= 12; i++)
      log.service.record(sampleRequest(i, { time: new Date(Date.now() - (i <= 11 ? 40 : 0) * day) }));
    await log.drain();
    // The appender's own timer runs retention; nothing here calls it.
    const until = Date.now() + 20_000;
    while (Date.now() < until && Number((await q(`SELECT count(*) AS n FROM audit_events`))[0]!.n) > 2)
      await sleep(100);
    expect((await q(`SELECT seq FROM audit_events ORDER BY seq`)).map((x) => Number(x.seq))).toEqual([
      11, 12,
    ]);
    const files = readdirSync(exportDir);
    expect(files).toEqual(['audit-000000000001-000000000010.ndjson']);
    const exported = readFileSync(join(exportDir, files[0]!), 'utf8').trim().split('\n');
    expect(exported.filter((l) => l.includes('"type":"event"'))).toHaveLength(10);
    expect(await q(`SELECT first_seq, last_seq FROM audit_exports`)).toEqual([
      expect.objectContaining({ first_seq: expect.anything(), last_seq: expect.anything() }),
    ]);
    expect(await log.verify()).toMatchObject({ ok: true, firstSeq: 11, lastSeq: 12 });
  });
});
