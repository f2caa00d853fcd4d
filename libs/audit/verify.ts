/**
 * Verification: walks the events in `seq` order, recomputing every hash and link, and checks every
 * checkpoint's signature (with the trusted key, not anything stored in the database) and that the
 * event it names still has the hash it signed. It stops at the first problem and names the event.
 * The walk starts at the first remaining event: seq 1 links to the genesis hash; after retention the
 * first remaining event must link to a signed checkpoint at the seq just before it.
 */
import type { DataSource } from 'typeorm';
import { GENESIS_HASH, chainHash } from './chain';
import type { AuditSigner } from './signing';
import { auditSql, type CheckpointRow, type EventRow } from './audit.repository';

export type ProblemKind = 'changed' | 'removed' | 'reordered' | 'checkpoint';

export interface VerifyProblem {
  kind: ProblemKind;
  /** The sequence number of the event named. */
  seq: number;
  /** Its event id, when the row is there to name. */
  eventId?: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Events walked. */
  events: number;
  firstSeq?: number;
  lastSeq?: number;
  /** Checkpoints whose signature and hash were checked. */
  checkpoints: number;
  /** Events after the last checkpoint (their integrity rests on the chain alone until it is signed). */
  unsigned: number;
  problem?: VerifyProblem;
}

export interface VerifyOptions {
  /** Rows fetched per query. Defaults to 1000. */
  pageSize?: number;
}

export async function verifyAuditLog(
  ds: DataSource,
  signer: AuditSigner,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const pageSize = opts.pageSize ?? 1000;
  const cps = await auditSql.checkpoints(ds);
  const bySeq = new Map<number, CheckpointRow>();
  const report: VerifyReport = { ok: true, events: 0, checkpoints: 0, unsigned: 0 };
  const fail = (problem: VerifyProblem): VerifyReport => ({ ...report, ok: false, problem });

  for (const cp of cps) {
    const { signature, ...payload } = cp;
    if (!signer.trusts(cp.keyId) || !signer.verify(payload, signature))
      return fail({
        kind: 'checkpoint',
        seq: cp.seq,
        message: !signer.trusts(cp.keyId)
          ? `checkpoint at seq ${cp.seq} was signed by key ${cp.keyId}, not a trusted key (current: ${signer.keyId})`
          : `checkpoint at seq ${cp.seq} has a bad signature (the checkpoint was altered)`,
      });
    bySeq.set(cp.seq, cp);
  }

  const first = (await auditSql.page(ds, 0, 1))[0];
  const exported = await auditSql.exportedUpTo(ds);
  const lastCp = cps[cps.length - 1];
  if (!first) {
    report.checkpoints = cps.length;
    // No events at all is fine for a new log, or when retention exported everything signed.
    if (lastCp && exported < lastCp.seq)
      return fail({
        kind: 'removed',
        seq: exported + 1,
        message: `events from seq ${exported + 1} to ${lastCp.seq} are missing and were never exported`,
      });
    return report;
  }
  let prevHash: string;
  let prevSeq = first.seq - 1;
  let prevId: string | undefined;
  if (first.seq === 1) prevHash = GENESIS_HASH;
  else {
    const anchor = bySeq.get(first.seq - 1);
    if (!anchor || exported < first.seq - 1)
      return fail({
        kind: 'removed',
        seq: first.seq - 1,
        message: anchor
          ? `events up to seq ${first.seq - 1} are missing and were never exported (removed outside retention)`
          : `events before seq ${first.seq} are missing and no signed checkpoint anchors seq ${first.seq - 1} (removed outside retention)`,
      });
    prevHash = anchor.hash;
  }
  report.firstSeq = first.seq;

  let after = prevSeq;
  for (;;) {
    const page = await auditSql.page(ds, after, pageSize);
    if (page.length === 0) break;
    for (const row of page) {
      const problem = await checkRow(ds, row, prevSeq, prevHash, prevId);
      if (problem) return fail(problem);
      const cp = bySeq.get(row.seq);
      if (cp && cp.hash !== row.hash)
        return fail({
          kind: 'changed',
          seq: row.seq,
          eventId: row.id,
          message: `event seq ${row.seq} (${row.id}) differs from what checkpoint ${cp.seq} signed: the chain up to it was rewritten`,
        });
      if (cp) report.checkpoints++;
      prevSeq = row.seq;
      prevHash = row.hash;
      prevId = row.id;
      report.events++;
      report.lastSeq = row.seq;
    }
    after = page[page.length - 1]!.seq;
  }

  const beyond = cps.find((c) => c.seq > prevSeq);
  if (beyond)
    return fail({
      kind: 'removed',
      seq: prevSeq + 1,
      message: `events from seq ${prevSeq + 1} to ${beyond.seq} are missing (checkpoint ${beyond.seq} signed them)`,
    });
  report.unsigned = prevSeq - Math.max(lastCp?.seq ?? 0, (report.firstSeq ?? 1) - 1);
  report.checkpoints += cps.filter((c) => c.seq < (report.firstSeq ?? 0)).length;
  return report;
}

async function checkRow(
  ds: DataSource,
  row: EventRow,
  prevSeq: number,
  prevHash: string,
  prevId: string | undefined,
): Promise<VerifyProblem | undefined> {
  const expected = prevSeq + 1;
  if (row.seq !== expected)
    return {
      kind: 'removed',
      seq: expected,
      message: `event seq ${expected} is missing (removed); the log jumps from seq ${prevSeq} to ${row.seq}`,
    };
  if (row.prevHash !== prevHash) {
    // The link to the predecessor is broken. If this row links to an event stored at some other
    // place, rows were moved; otherwise the predecessor's content (with its hash) was rewritten.
    const linkedSeq = await auditSql.seqOfHash(ds, row.prevHash);
    if (linkedSeq !== undefined && linkedSeq !== prevSeq)
      return {
        kind: 'reordered',
        seq: row.seq,
        eventId: row.id,
        message: `event ${row.id} at seq ${row.seq} is out of order: it was written after the event now at seq ${linkedSeq}`,
      };
    return {
      kind: 'changed',
      seq: prevSeq,
      eventId: prevId,
      message: `event seq ${prevSeq} was changed: its hash no longer matches the link stored in seq ${row.seq}`,
    };
  }
  if (chainHash(row.prevHash, row) !== row.hash)
    return {
      kind: 'changed',
      seq: row.seq,
      eventId: row.id,
      message: `event seq ${row.seq} (${row.id}) was changed: its content no longer matches its hash`,
    };
  return undefined;
}
