/**
 * What the audit log keeps in its durable buffer (@corral/durable): events for the chain and
 * captured content for its own table, one JSON record per entry.
 */
import type { DurableBuffer } from '@corral/durable';
import type { PendingEvent } from './event';

/** Captured prompt/response content, written to its own table (never into the chain). */
export interface PendingContent {
  /** The event it belongs to (the request's `api.request` event, or the run's own). */
  eventId: string;
  /** The request's id, the same as its event's `request_id`. */
  requestId?: string | null;
  teamId: string;
  time: string;
  expiresAt: string;
  prompt: unknown;
  response: unknown;
}

export type BufferRecord =
  { kind: 'event'; event: PendingEvent } | { kind: 'content'; content: PendingContent };

/** The audit log's buffer: a spool in embedded mode, a Redis Stream in a cluster. */
export type AuditBuffer = DurableBuffer<BufferRecord>;

/** Reads an audit record back; anything else is an unreadable entry (passed over). */
export function parseRecord(line: string): BufferRecord | null {
  try {
    const r = JSON.parse(line) as BufferRecord;
    return r && (r.kind === 'event' || r.kind === 'content') ? r : null;
  } catch {
    return null;
  }
}
