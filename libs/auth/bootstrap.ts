/**
 * First start: when no user exists, create an admin user and team and write a one-time admin key
 * to $CORRAL_HOME/admin.key (mode 0600). Only the file's path is logged, never the key. With
 * several gateways starting at once on one database, a row in corral_instance elects one.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '@corral/persistence';
import { formatApiKey, newId, newKeyId, newKeySecret, sha256Hex } from './credentials';
import { SCOPES } from './scopes';

export interface BootstrapResult {
  /** Where the admin key was written, when this start created it. */
  keyFile?: string;
}

export async function bootstrapAuth(database: Database, home: string): Promise<BootstrapResult> {
  const keyFile = join(home, 'admin.key');
  const created = await database.dataSource.transaction(async (m) => {
    const won = (await m.query(
      `INSERT INTO corral_instance (key, value) VALUES ('auth_bootstrap', to_jsonb(now()))
       ON CONFLICT (key) DO NOTHING RETURNING key`,
    )) as unknown[];
    if (won.length === 0) return false;
    const userId = newId('usr');
    const teamId = newId('team');
    const id = newKeyId();
    const secret = newKeySecret();
    await m.query(
      `INSERT INTO auth_users (id, email, name, global_role) VALUES ($1, 'admin@localhost', 'Administrator', 'admin')`,
      [userId],
    );
    await m.query(`INSERT INTO auth_teams (id, name) VALUES ($1, 'admin')`, [teamId]);
    await m.query(`INSERT INTO auth_memberships (team_id, user_id, role) VALUES ($1, $2, 'owner')`, [
      teamId,
      userId,
    ]);
    await m.query(
      `INSERT INTO auth_api_keys (id, team_id, user_id, name, secret_hash, scopes, created_by)
       VALUES ($1, $2, $3, 'admin (first start)', $4, $5::text[], $3)`,
      [id, teamId, userId, sha256Hex(secret), [...SCOPES]],
    );
    // Written inside the transaction: if the file cannot be written, nothing is half-created.
    writeFileSync(keyFile, formatApiKey(id, secret) + '\n', { mode: 0o600, flag: 'w' });
    chmodSync(keyFile, 0o600);
    return true;
  });
  return created ? { keyFile } : {};
}
