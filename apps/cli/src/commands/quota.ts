/**
 * `corral quota get|set team|key <id>` (/admin/v1/{teams,keys}/:id/quota) and `corral usage`
 * (/admin/v1/usage). `set` changes only the limits given (`none` removes one) and keeps the rest.
 */
import type { UsageRow } from '@corral/quota';
import type { CorralClient } from '../client';
import { renderTable } from '../format';
import { query, type Out } from './admin-common';

export type QuotaSubject = 'team' | 'key';

export interface QuotaFlags {
  rpm?: string;
  tpm?: string;
  concurrent?: string;
  daily?: string;
  monthly?: string;
  maxRequestTokens?: string;
  models?: string;
  weight?: string;
  priority?: string;
}

const FLAG_FIELDS: [keyof QuotaFlags, string, string][] = [
  ['rpm', 'requestsPerMinute', 'REQUESTS/MIN'],
  ['tpm', 'tokensPerMinute', 'TOKENS/MIN'],
  ['concurrent', 'concurrentRequests', 'CONCURRENT'],
  ['daily', 'dailyTokens', 'DAILY TOKENS'],
  ['monthly', 'monthlyTokens', 'MONTHLY TOKENS'],
  ['maxRequestTokens', 'maxTokensPerRequest', 'MAX TOKENS/REQUEST'],
];

type QuotaView = Record<string, unknown> & { usage?: Record<string, number> };

function path(subject: QuotaSubject, id: string): string {
  if (subject !== 'team' && subject !== 'key')
    throw new Error(`expected 'team' or 'key', got '${String(subject)}'`);
  return `/admin/v1/${subject === 'team' ? 'teams' : 'keys'}/${encodeURIComponent(id)}/quota`;
}

/** A limit flag: a whole number, or `none` for no limit. The server validates the range. */
function limitValue(flag: string, v: string): number | null {
  if (v === 'none') return null;
  if (!/^\d+$/.test(v)) throw new Error(`--${flag} must be a whole number or 'none', got '${v}'`);
  return Number(v);
}

export function renderQuota(q: QuotaView): string {
  const show = (v: unknown) =>
    v === null || v === undefined ? 'unlimited' : Array.isArray(v) ? v.join(',') : String(v);
  const rows = [['LIMIT', 'VALUE', 'USED NOW']];
  const used: Record<string, string> = {
    requestsPerMinute: 'requests',
    tokensPerMinute: 'tokens',
    concurrentRequests: 'concurrent',
    dailyTokens: 'dailyTokens',
    monthlyTokens: 'monthlyTokens',
  };
  for (const [, field, label] of FLAG_FIELDS) {
    const u = used[field] && q.usage ? q.usage[used[field]] : undefined;
    rows.push([label, show(q[field]), u === undefined ? '' : String(Math.round(u))]);
  }
  rows.push(['MODELS', q.allowedModels ? show(q.allowedModels) : 'all', '']);
  if ('weight' in q) rows.push(['WEIGHT', show(q.weight), '']);
  if ('priority' in q) rows.push(['PRIORITY', show(q.priority), '']);
  return renderTable(rows);
}

export async function quotaGetCommand(
  client: CorralClient,
  subject: QuotaSubject,
  id: string,
  out: Out,
): Promise<void> {
  out.write(renderQuota(await client.json<QuotaView>('GET', path(subject, id))));
}

export async function quotaSetCommand(
  client: CorralClient,
  subject: QuotaSubject,
  id: string,
  flags: QuotaFlags,
  out: Out,
): Promise<void> {
  const current = await client.json<QuotaView>('GET', path(subject, id));
  const body: Record<string, unknown> = {};
  for (const [, field] of FLAG_FIELDS)
    if (current[field] !== null && current[field] !== undefined) body[field] = current[field];
  if (current.allowedModels) body.allowedModels = current.allowedModels;
  if (subject === 'team' && current.weight !== undefined) body.weight = current.weight;
  if (subject === 'key' && current.priority !== undefined) body.priority = current.priority;
  for (const [flag, field] of FLAG_FIELDS) {
    const v = flags[flag];
    if (v !== undefined) body[field] = limitValue(flag, v);
  }
  if (flags.models !== undefined)
    body.allowedModels =
      flags.models === 'all'
        ? null
        : flags.models
            .split(',')
            .map((m) => m.trim())
            .filter(Boolean);
  if (flags.weight !== undefined) {
    if (subject !== 'team') throw new Error('--weight applies to teams');
    body.weight = Number(flags.weight);
  }
  if (flags.priority !== undefined) {
    if (subject !== 'key') throw new Error('--priority applies to keys');
    body.priority = flags.priority;
  }
  out.write(renderQuota(await client.json<QuotaView>('PUT', path(subject, id), body)));
}

export interface UsageFlags {
  from?: string;
  to?: string;
  groupBy?: string;
  granularity?: string;
  team?: string;
  key?: string;
  user?: string;
  model?: string;
  csv?: boolean;
}

/** What the table shows of a row of GET /admin/v1/usage (the server's own type; a type-only import). */
type UsageRowView = Omit<UsageRow, 'avgDurationMs' | 'avgTtftMs'>;

/** Default range: the last 30 days up to the next hour. */
export function usageQuery(flags: UsageFlags, now = new Date()): string {
  const to = flags.to ?? new Date(Math.ceil(now.getTime() / 3_600_000) * 3_600_000).toISOString();
  const from = flags.from ?? new Date(new Date(to).getTime() - 30 * 86_400_000).toISOString();
  return query({
    from,
    to,
    groupBy: flags.groupBy,
    granularity: flags.granularity,
    teamId: flags.team,
    keyId: flags.key,
    userId: flags.user,
    model: flags.model,
    format: flags.csv ? 'csv' : undefined,
  });
}

export function renderUsage(rows: UsageRowView[], groupBy: string[], granularity: string): string {
  const cols: [string, (r: UsageRowView) => unknown][] = [];
  if (granularity !== 'total') cols.push(['PERIOD', (r) => r.period?.replace(':00:00Z', ':00Z')]);
  const named: Record<string, [string, (r: UsageRowView) => unknown]> = {
    team: ['TEAM', (r) => r.teamId],
    key: ['KEY', (r) => r.keyId],
    user: ['USER', (r) => r.userId],
    model: ['MODEL', (r) => r.model],
  };
  for (const g of groupBy) if (named[g]) cols.push(named[g]);
  cols.push(['REQUESTS', (r) => r.requests], ['ERRORS', (r) => r.errors], ['PROMPT', (r) => r.promptTokens]);
  cols.push(['COMPLETION', (r) => r.completionTokens], ['TOTAL', (r) => r.totalTokens]);
  return renderTable([
    cols.map(([h]) => h),
    ...rows.map((r) => cols.map(([, f]) => String(f(r) ?? '') || '-')),
  ]);
}

export async function usageCommand(client: CorralClient, flags: UsageFlags, out: Out): Promise<void> {
  // CSV is the server's export (format=csv), byte for byte: one implementation of the format.
  if (flags.csv) {
    out.write(await client.text('/admin/v1/usage' + usageQuery(flags)));
    return;
  }
  const r = await client.json<{ groupBy: string[]; granularity: string; data: UsageRowView[] }>(
    'GET',
    '/admin/v1/usage' + usageQuery({ ...flags, csv: false }),
  );
  out.write(renderUsage(r.data, r.groupBy, r.granularity));
}
