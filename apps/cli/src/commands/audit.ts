/**
 * `corral audit search|export|verify`. Search and export call `/admin/v1/audit`; verify calls
 * `POST /admin/v1/audit/verify`, or with `--local` opens the database itself (on the server
 * machine, with the server's environment; PGlite allows one process at a time, so stop the server
 * first in embedded mode) and checks with the signing key from $CORRAL_HOME or CORRAL_AUDIT_KEY_FILE.
 * `corral audit rotate-key` asks the server to rotate the signing key (`--local`: rotates the files
 * in $CORRAL_HOME itself, with the server stopped).
 */
import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  loadSigningKey,
  retiredKeysDir,
  rotateSigningKey,
  signingKeyPath,
  verifyAuditLog,
  type AuditEventDto,
  type AuditPage,
  type VerifyReport,
} from '@corral/audit';
import { loadConfig } from '@corral/config';
import { openDatabase } from '@corral/persistence';
import { MIGRATIONS } from '../../../../migrations';
import { ApiError, resolveApiKey, type CorralClient } from '../client';
import { renderTable } from '../format';

export interface AuditFilterFlags {
  from?: string;
  to?: string;
  actor?: string;
  team?: string;
  action?: string;
  resource?: string;
  outcome?: string;
}

export interface AuditSearchFlags extends AuditFilterFlags {
  limit?: string;
  cursor?: string;
  json?: boolean;
}

function query(flags: object, extra: Record<string, string | undefined> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...flags, ...extra }))
    if (typeof v === 'string' && v !== '' && k !== 'json' && k !== 'output') p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
}

export function renderEvents(events: AuditEventDto[]): string {
  const rows = [['SEQ', 'TIME', 'ACTOR', 'TEAM', 'ACTION', 'RESOURCE', 'STATUS']];
  for (const e of events) {
    const status = e.outcome.error_code
      ? `${e.outcome.status} ${e.outcome.error_code}`
      : String(e.outcome.status);
    rows.push([
      String(e.seq),
      e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      `${e.actor.type}:${e.actor.id ?? '-'}`,
      e.team_id ?? '-',
      e.action,
      e.model ? `${e.resource ?? e.route ?? '-'} (${e.model})` : (e.resource ?? e.route ?? '-'),
      status,
    ]);
  }
  return renderTable(rows);
}

export async function auditSearchCommand(
  client: CorralClient,
  flags: AuditSearchFlags,
  out: Writable,
): Promise<void> {
  const page = await client.json<AuditPage>('GET', '/admin/v1/audit' + query(flags));
  if (flags.json) {
    out.write(JSON.stringify(page, null, 2) + '\n');
    return;
  }
  out.write(renderEvents(page.data) + '\n');
  if (page.next_cursor) out.write(`\nmore: --cursor ${page.next_cursor}\n`);
}

export async function auditExportCommand(
  client: CorralClient,
  flags: AuditFilterFlags & { format?: string; output?: string },
  out: Writable,
): Promise<void> {
  const format = flags.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'csv') throw new Error('--format must be ndjson or csv');
  const key = resolveApiKey();
  const res = await client.send('/admin/v1/audit' + query(flags, { format }), {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  if (!res.ok) {
    const text = await res.text();
    let message = text || `HTTP ${res.status}`;
    try {
      const e = (JSON.parse(text) as { error?: string | { message?: string } }).error;
      message = typeof e === 'string' ? e : (e?.message ?? message);
    } catch {
      // not JSON
    }
    throw new ApiError(message, res.status);
  }
  if (!res.body) return;
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  if (flags.output) await pipeline(body, createWriteStream(flags.output, { mode: 0o600 }));
  else await pipeline(body, out, { end: false });
}

export function renderVerify(r: VerifyReport): string {
  if (!r.ok && r.problem) {
    const id = r.problem.eventId ? ` (event ${r.problem.eventId})` : '';
    return `audit log FAILED verification at seq ${r.problem.seq}${id}: ${r.problem.kind}\n  ${r.problem.message}`;
  }
  if (r.events === 0) return `audit log verified: no events (${r.checkpoints} checkpoints)`;
  return (
    `audit log verified: ${r.events} events (seq ${r.firstSeq}–${r.lastSeq}), ${r.checkpoints} signed checkpoints` +
    (r.unsigned ? `, ${r.unsigned} newest events not yet under a checkpoint` : '')
  );
}

export async function auditVerifyCommand(
  client: CorralClient,
  flags: { local?: boolean; json?: boolean },
  out: Writable,
): Promise<void> {
  const report = flags.local
    ? await verifyLocally()
    : await client.json<VerifyReport>('POST', '/admin/v1/audit/verify');
  out.write((flags.json ? JSON.stringify(report, null, 2) : renderVerify(report)) + '\n');
  if (!report.ok) process.exitCode = 1;
}

async function verifyLocally(): Promise<VerifyReport> {
  const config = loadConfig();
  // Verification never creates a key: a missing one means there is nothing it could check against.
  const signer = loadSigningKey(config.auditKeyFile ?? signingKeyPath(config.home), {
    create: false,
    retiredDir: retiredKeysDir(config.home),
  });
  const db = await openDatabase(config.database, {
    migrations: MIGRATIONS,
    schema: config.dbSchema,
    migrate: false,
  });
  try {
    return await verifyAuditLog(db.dataSource, signer);
  } finally {
    await db.close();
  }
}

interface RotationOut {
  previous_key_id: string;
  key_id: string;
  retired_key_file: string;
}

export async function auditRotateKeyCommand(
  client: CorralClient,
  flags: { local?: boolean; json?: boolean },
  out: Writable,
): Promise<void> {
  let r: RotationOut;
  if (flags.local) {
    const config = loadConfig();
    if (config.auditKeyFile)
      throw new Error(
        'the audit signing key is mounted (CORRAL_AUDIT_KEY_FILE): rotate that secret where it is managed, and put the old public key in $CORRAL_HOME/audit-keys/',
      );
    const k = rotateSigningKey(signingKeyPath(config.home), retiredKeysDir(config.home));
    r = { previous_key_id: k.previousKeyId, key_id: k.keyId, retired_key_file: k.retiredKeyFile };
  } else {
    r = await client.json<RotationOut>('POST', '/admin/v1/audit/rotate-key');
  }
  out.write(
    (flags.json
      ? JSON.stringify(r, null, 2)
      : `audit signing key rotated: ${r.previous_key_id} → ${r.key_id} (old public key kept at ${r.retired_key_file})`) +
      '\n',
  );
}
