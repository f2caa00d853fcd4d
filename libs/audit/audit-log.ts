/**
 * Assembles the audit log for one process: signing key, durable buffer (spool or Redis Stream),
 * leader lock, appender and service. The gateway calls `openAuditLog` at boot and `close` at
 * shutdown; the CLI uses `verifyAuditLog` and `search` directly against the database.
 */
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { AuditAppender, type AppenderOptions } from './appender';
import { LocalLeader, RedisLeader, RedisStreamBuffer, SpoolBuffer, type LeaderLock } from '@corral/durable';
import { parseRecord, type AuditBuffer } from './audit-buffer';
import { DbContentPolicies, type ContentPolicySource } from './content';
import { AuditService } from './audit.service';
import { purgeExpiredContent } from './content';
import { applyRetention } from './retention';
import {
  loadSigningKey,
  retiredKeysDir,
  rotateSigningKey,
  signingKeyPath,
  type AuditSigner,
  type RotationResult,
} from './signing';
import { verifyAuditLog, type VerifyReport } from './verify';

export interface AuditLogOptions {
  dataSource: DataSource;
  /** `$CORRAL_HOME`: holds the signing key and (embedded) the spool. */
  home: string;
  /** A mounted signing key (CORRAL_AUDIT_KEY_FILE); never created. Defaults to `$CORRAL_HOME/audit-signing.key`. */
  keyFile?: string;
  /** Cluster mode: buffer in a Redis Stream and elect the appender with a Redis lock. */
  redisUrl?: string;
  /** Redis key prefix. Defaults to `corral:`. */
  redisPrefix?: string;
  /** Defaults to `$CORRAL_HOME/audit-spool`. */
  spoolDir?: string;
  appender?: AppenderOptions;
  /** Content policies (identity/quota settings can back them later). Defaults to the audit_content_policies table. */
  policies?: ContentPolicySource;
  /** Start the appender loop. Defaults to true. */
  startAppender?: boolean;
  /**
   * Scheduled retention, run by the appender while it leads: events older than `days` are
   * exported to `exportDir` and then deleted (whole segments); captured content past its own
   * expiry is deleted. `days` 0 keeps events forever (content still expires).
   */
  retention?: { days: number; exportDir: string; intervalMs?: number };
}

export interface AuditLog {
  readonly dataSource: DataSource;
  readonly service: AuditService;
  readonly appender: AuditAppender;
  readonly buffer: AuditBuffer;
  /** The current signing key (trusting the retired ones). */
  readonly signer: AuditSigner;
  readonly policies: ContentPolicySource;
  /**
   * Rotates the signing key: signs a checkpoint at the head with the old key, keeps its public
   * half under `$CORRAL_HOME/audit-keys`, and signs from then on with a new key. Refused for a
   * mounted key (CORRAL_AUDIT_KEY_FILE): rotate that secret where it is managed.
   */
  rotateKey(): Promise<RotationResult>;
  verify(): Promise<VerifyReport>;
  /** Resolves when every event recorded so far is committed to the database (tests, shutdown). */
  drain(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The signing key of a data directory (or the mounted one), trusting the keys retired there. */
export function signerFor(home: string, keyFile?: string): AuditSigner {
  const retiredDir = retiredKeysDir(home);
  return keyFile
    ? loadSigningKey(keyFile, { create: false, retiredDir })
    : loadSigningKey(signingKeyPath(home), { create: true, retiredDir });
}

/** Retention's one pass: export-then-delete old segments, and expired captured content. */
export async function retentionPass(
  ds: DataSource,
  r: { days: number; exportDir: string },
  now = Date.now(),
): Promise<void> {
  if (r.days > 0)
    await applyRetention(ds, { before: new Date(now - r.days * 86_400_000), exportDir: r.exportDir });
  else await purgeExpiredContent(ds, new Date(now));
}

export async function openAuditLog(o: AuditLogOptions): Promise<AuditLog> {
  let signer = signerFor(o.home, o.keyFile);
  let buffer: AuditBuffer;
  let leader: LeaderLock;
  let quit: (() => Promise<unknown>) | undefined;
  if (o.redisUrl) {
    const { Redis } = await import('ioredis');
    const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 2 });
    buffer = new RedisStreamBuffer({ redis, prefix: o.redisPrefix, parse: parseRecord });
    leader = new RedisLeader({ redis, prefix: o.redisPrefix });
    quit = () => redis.quit();
  } else {
    buffer = await SpoolBuffer.open({ dir: o.spoolDir ?? join(o.home, 'audit-spool'), parse: parseRecord });
    leader = new LocalLeader();
  }
  const policies = o.policies ?? new DbContentPolicies(o.dataSource);
  const retention = o.retention;
  const appender = new AuditAppender(o.dataSource, buffer, signer, leader, {
    ...o.appender,
    ...(retention
      ? {
          maintenance: () => retentionPass(o.dataSource, retention),
          maintenanceIntervalMs: retention.intervalMs ?? o.appender?.maintenanceIntervalMs,
        }
      : {}),
  });
  const service = new AuditService(buffer, { policies, onFlushed: () => appender.kick() });
  if (o.startAppender !== false) appender.start();
  return {
    dataSource: o.dataSource,
    service,
    appender,
    buffer,
    get signer() {
      return signer;
    },
    policies,
    verify: () => verifyAuditLog(o.dataSource, signer),
    async rotateKey() {
      if (o.keyFile)
        throw new Error(
          'the audit signing key is mounted (CORRAL_AUDIT_KEY_FILE): rotate that secret where it is managed, and put the old public key in $CORRAL_HOME/audit-keys/',
        );
      // Everything so far is signed by the old key before the new one takes over.
      await appender.checkpointNow();
      const r = rotateSigningKey(signingKeyPath(o.home), retiredKeysDir(o.home));
      signer = r.signer;
      appender.useSigner(r.signer);
      return { previousKeyId: r.previousKeyId, keyId: r.keyId, retiredKeyFile: r.retiredKeyFile };
    },
    async drain(timeoutMs = 30_000) {
      await service.flush();
      const until = Date.now() + timeoutMs;
      while ((await buffer.read(1)).length > 0) {
        if (Date.now() > until)
          throw new Error(
            `audit log not drained after ${timeoutMs} ms: ${appender.lastError ?? 'appender idle'}`,
          );
        appender.kick();
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await service.close();
      await appender.stop();
      await buffer.close();
      await quit?.();
    },
  };
}
