/**
 * `corral keys create|list|get|revoke|rotate`: the admin API's /admin/v1/keys. A new or rotated
 * key is printed once, on stdout alone on its line, so scripts can capture it.
 */
import { parseDuration } from '@corral/config';
import type { CorralClient } from '../client';
import { humanTime, renderTable } from '../format';
import { allPages, query, type Out, type PageOf } from './admin-common';

export interface KeyView {
  id: string;
  prefix: string;
  team_id: string;
  user_id: string | null;
  name: string;
  scopes: string[];
  models: string[] | null;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  created_at: string;
  key?: string;
}

export interface CreateKeyFlags {
  team: string;
  name: string;
  scopes: string;
  models?: string;
  /** RFC 3339 time or a duration from now (`30d` is not Go syntax: use `720h`). */
  expires?: string;
  user?: string;
}

const list = (s: string | undefined) =>
  s
    ?.split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function expiryFrom(value: string, now = Date.now()): string {
  const ms = parseDuration(value);
  if (ms !== undefined && ms > 0) return new Date(now + ms).toISOString();
  if (!Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new Error(`invalid --expires '${value}': give a time (2027-01-01T00:00:00Z) or a duration (720h)`);
}

export async function createKeyCommand(client: CorralClient, flags: CreateKeyFlags, out: Out): Promise<void> {
  const key = await client.json<KeyView>('POST', '/admin/v1/keys', {
    team_id: flags.team,
    name: flags.name,
    scopes: list(flags.scopes) ?? [],
    ...(flags.models ? { models: list(flags.models) } : {}),
    ...(flags.expires ? { expires_at: expiryFrom(flags.expires) } : {}),
    ...(flags.user ? { user_id: flags.user } : {}),
  });
  out.write(`${key.key}\n`);
  out.write(
    `# id ${key.id}, team ${key.team_id}, scopes ${key.scopes.join(',')}. Shown once: store it now.\n`,
  );
}

export function renderKeys(keys: KeyView[], now = new Date()): string {
  const rows = [['ID', 'NAME', 'TEAM', 'SCOPES', 'MODELS', 'EXPIRES', 'LAST USED', 'STATUS']];
  for (const k of keys) {
    rows.push([
      k.id,
      k.name,
      k.team_id,
      k.scopes.join(','),
      k.models ? k.models.join(',') : 'all',
      k.expires_at ? k.expires_at.slice(0, 19) + 'Z' : 'never',
      humanTime(k.last_used_at, 'never', now),
      k.revoked_at
        ? 'revoked'
        : k.expires_at && Date.parse(k.expires_at) <= now.getTime()
          ? 'expired'
          : 'active',
    ]);
  }
  return renderTable(rows);
}

export async function listKeysCommand(
  client: CorralClient,
  flags: { team?: string; all?: boolean },
  out: Out,
): Promise<void> {
  const keys = await allPages((cursor) =>
    client.json<PageOf<KeyView>>(
      'GET',
      '/admin/v1/keys' +
        query({ team_id: flags.team, include_revoked: flags.all ? 'true' : undefined, cursor }),
    ),
  );
  out.write(renderKeys(keys));
}

export async function revokeKeyCommand(client: CorralClient, id: string, out: Out): Promise<void> {
  const key = await client.json<KeyView>('POST', `/admin/v1/keys/${encodeURIComponent(id)}/revoke`, {});
  out.write(`revoked key ${key.id} (${key.name})\n`);
}

export async function rotateKeyCommand(
  client: CorralClient,
  id: string,
  flags: { grace?: string },
  out: Out,
): Promise<void> {
  const graceMs = flags.grace ? parseDuration(flags.grace) : 0;
  if (graceMs === undefined || graceMs < 0)
    throw new Error(`invalid --grace '${flags.grace}': give a duration (10m)`);
  const key = await client.json<KeyView>('POST', `/admin/v1/keys/${encodeURIComponent(id)}/rotate`, {
    grace_seconds: Math.round(graceMs / 1000),
  });
  out.write(`${key.key}\n`);
  out.write(
    `# new secret for key ${key.id}; the old one ${graceMs > 0 ? `works for ${flags.grace} more` : 'no longer works'}.\n`,
  );
}
