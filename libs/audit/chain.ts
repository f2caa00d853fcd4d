/**
 * Canonical form and hash chain. The canonical form of an event is JSON with keys sorted at every
 * level and every field present (absent = null), so the same event always hashes the same on any
 * machine. Each event's hash covers its canonical form (which includes its `seq`) and the previous
 * event's hash: changing, removing or reordering an event breaks every link after it.
 */
import { createHash } from 'node:crypto';
import type { AuditEvent } from './event';

/** The `prevHash` of the first event ever written. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with sorted keys and no whitespace; `undefined` members are dropped as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value))
    return '[' + value.map((v) => canonicalJson(v === undefined ? null : v)).join(',') + ']';
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return '{' + entries.map(([k, v]) => JSON.stringify(k) + ':' + canonicalJson(v)).join(',') + '}';
}

const EVENT_KEYS: readonly (keyof AuditEvent)[] = (
  [
    'seq',
    'id',
    'time',
    'requestId',
    'actorType',
    'actorId',
    'teamId',
    'action',
    'resource',
    'route',
    'model',
    'status',
    'errorCode',
    'promptTokens',
    'completionTokens',
    'durationMs',
    'clientAddress',
    'userAgent',
    'details',
  ] as const
)
  .slice()
  .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * The canonical form of one event (exactly the stored fields; nothing derived). Same output as
 * `canonicalJson` over those fields, built without the generic walk because it runs per event.
 */
export function canonicalEvent(e: AuditEvent): string {
  let s = '{';
  for (let i = 0; i < EVENT_KEYS.length; i++) {
    const k = EVENT_KEYS[i]!;
    const v = e[k];
    s += (i ? ',"' : '"') + k + '":' + (k === 'details' ? canonicalJson(v) : JSON.stringify(v ?? null));
  }
  return s + '}';
}

/** sha256(prevHash + "\n" + canonical form), hex. */
export function chainHash(prevHash: string, e: AuditEvent): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalEvent(e)).digest('hex');
}
