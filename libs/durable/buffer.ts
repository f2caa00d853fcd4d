/**
 * A durable buffer between the request path and one writer. `append` resolves once the records
 * would survive a crash; `read` returns the oldest unacknowledged records in order; `ack` drops
 * everything up to an entry. Delivery is at-least-once (a crash between the writer's commit and
 * `ack` replays a batch); the writer makes it exactly-once (the audit appender skips event ids it
 * has written, the usage writer rows it has written). Two implementations: a local spool (embedded)
 * and a Redis Stream (cluster); one contract suite (buffer.contract.int.spec.ts) runs against both.
 * Records are JSON values; what they mean is the owner's business.
 */

export interface BufferedEntry<R = unknown> {
  /** Position in the buffer; opaque to callers, meaningful to `ack`. */
  readonly position: string;
  /** null: an unreadable entry, passed over by position so it cannot block the buffer. */
  readonly record: R | null;
}

export interface DurableBuffer<R = unknown> {
  /** Stores records durably, after every record appended before (order is kept). */
  append(records: R[]): Promise<void>;
  /** The oldest unacknowledged entries, in order; at most `limit`. */
  read(limit: number): Promise<BufferedEntry<R>[]>;
  /** Acknowledges `upTo` and every entry before it. */
  ack(upTo: BufferedEntry<R>): Promise<void>;
  /** Entries not yet acknowledged (for health and tests; may scan). */
  pending(): Promise<number>;
  close(): Promise<void>;
}

/** Reads one stored record back; null for an entry that is not one (it is passed over). */
export type RecordParser<R> = (line: string) => R | null;

/** The default parser: any JSON object; the owner checks the shape (as the usage writer does). */
export function parseJsonRecord<R>(line: string): R | null {
  try {
    const r = JSON.parse(line) as unknown;
    return r !== null && typeof r === 'object' ? (r as R) : null;
  } catch {
    return null;
  }
}
