/**
 * The durable buffer between the request path and the one appender. `append` resolves once the
 * records would survive a crash; `read` returns the oldest unacknowledged records in order; `ack`
 * drops everything up to an entry. Delivery is at-least-once (a crash between the database commit
 * and `ack` replays a batch), which the appender makes exactly-once by skipping event ids it has
 * already written. Two implementations: a local spool (embedded) and a Redis Stream (cluster); one
 * contract suite (buffer.contract.spec.ts) runs against both.
 */
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

export interface BufferedEntry {
  /** Position in the buffer; opaque to callers, meaningful to `ack`. */
  readonly position: string;
  /** null: an unreadable entry, passed over by position so it cannot block the buffer. */
  readonly record: BufferRecord | null;
}

export interface AuditBuffer {
  /** Stores records durably, after every record appended before (order is kept). */
  append(records: BufferRecord[]): Promise<void>;
  /** The oldest unacknowledged entries, in order; at most `limit`. */
  read(limit: number): Promise<BufferedEntry[]>;
  /** Acknowledges `upTo` and every entry before it. */
  ack(upTo: BufferedEntry): Promise<void>;
  /** Entries not yet acknowledged (for health and tests; may scan). */
  pending(): Promise<number>;
  close(): Promise<void>;
}

export function parseRecord(line: string): BufferRecord | null {
  try {
    const r = JSON.parse(line) as BufferRecord;
    return r && (r.kind === 'event' || r.kind === 'content') ? r : null;
  } catch {
    return null;
  }
}
