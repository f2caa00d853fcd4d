import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAuditLog, type AuditLog } from './audit-log';
import { applyRetention } from './retention';
import { auditTargets, openTestDb, resetAuditTables, type TestDb, sampleRequest } from '@corral/testing';

describe.each(auditTargets())('audit retention on %s', (target) => {
  let t: TestDb;
  let log: AuditLog;
  const q = (sql: string, p?: unknown[]) =>
    t.db.dataSource.query(sql, p) as Promise<Record<string, unknown>[]>;
  beforeAll(async () => {
    t = await openTestDb(target);
  });
  afterAll(() => t.dispose());
  beforeEach(async () => {
    await resetAuditTables(t);
    const home = mkdtempSync(join(t.home, 'home-'));
    log = await openAuditLog({
      dataSource: t.db.dataSource,
      home,
      appender: { checkpointEvery: 5, pollMs: 20 },
    });
  });
  afterEach(() => log.close());

  const day = 86_400_000;
  async function writeEvents(): Promise<string[]> {
    const ids: string[] = [];
    // 12 events: the first 11 are 40 days old, the last one is new.
    for (let i = 1; i <= 12; i++)
      ids.push(
        log.service.record(sampleRequest(i, { time: new Date(Date.now() - (i <= 11 ? 40 : 0) * day) })),
      );
    await log.drain();
    return ids;
  }

  it('exports and deletes whole old segments, and the rest still verifies', async () => {
    const ids = await writeEvents();
    const exportDir = join(t.home, 'archive');
    const r = await applyRetention(t.db.dataSource, { before: new Date(Date.now() - 30 * day), exportDir });
    // Checkpoints sit at 5 and 10; event 11 is old too but its segment is not closed, so it stays.
    expect(r).toMatchObject({ pruned: 10, firstSeq: 1, lastSeq: 10 });
    const lines = readFileSync(r.file!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; id?: string });
    expect(lines.filter((l) => l.type === 'event').map((l) => l.id)).toEqual(ids.slice(0, 10));
    expect(lines.filter((l) => l.type === 'checkpoint')).toHaveLength(2);
    expect((await q(`SELECT seq FROM audit_events ORDER BY seq`)).map((x) => Number(x.seq))).toEqual([
      11, 12,
    ]);
    expect(await log.verify()).toMatchObject({ ok: true, firstSeq: 11, lastSeq: 12, events: 2 });

    // The chain goes on from where it was: new events still verify.
    log.service.record(sampleRequest(99));
    await log.drain();
    expect(await log.verify()).toMatchObject({ ok: true, lastSeq: 13 });

    // A second run has nothing old enough in a closed segment.
    expect(
      await applyRetention(t.db.dataSource, { before: new Date(Date.now() - 30 * day), exportDir }),
    ).toMatchObject({
      pruned: 0,
    });
  });

  it('still catches a deletion after retention', async () => {
    await writeEvents();
    await applyRetention(t.db.dataSource, {
      before: new Date(Date.now() - 30 * day),
      exportDir: join(t.home, 'a2'),
    });
    await q(`ALTER TABLE audit_events DISABLE TRIGGER USER`);
    await q(`DELETE FROM audit_events WHERE seq = 11`);
    await q(`ALTER TABLE audit_events ENABLE TRIGGER USER`);
    expect((await log.verify()).problem).toMatchObject({ kind: 'removed', seq: 11 });
  });

  it('refuses to prune what was not exported', async () => {
    await writeEvents();
    await expect(q(`SELECT audit_prune_segment(5)`)).rejects.toThrow(/not exported/);
    expect(await q(`SELECT count(*)::int AS n FROM audit_events`)).toEqual([{ n: 12 }]);
  });
});
