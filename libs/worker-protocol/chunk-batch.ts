/**
 * Transport envelope of the child-process IPC channel. A decode step of several sequences makes every
 * one of their generation jobs emit a `chunk` in the same event-loop turn; sent one by one, that is one
 * pipe write in the worker and one message event in the gateway per sequence per token (17% of the
 * worker's busy time at 16 streams, docs/performance.md). The worker's sender gathers the chunks of one
 * turn into one envelope; the gateway's link unpacks it before anything else sees the messages, so the
 * job protocol itself (protocol.ts) is unchanged and every other message keeps its order.
 */
import type { FromWorker } from './protocol';

type Chunk = Extract<FromWorker, { type: 'chunk' }>;

export interface ChunkBatch {
  type: 'chunks';
  chunks: Chunk[];
}

/**
 * Worker side: wraps `send` so the chunks emitted in one turn leave as one envelope, flushed before the
 * event loop waits again (setImmediate) and before any other message, which keeps the order of a job's
 * messages (its last chunk always precedes its `done`). A lone chunk is sent as itself.
 */
export function chunkBatchingSender(send: (m: FromWorker | ChunkBatch) => void): (m: FromWorker) => void {
  let pending: Chunk[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunks = pending;
    pending = [];
    send(chunks.length === 1 ? (chunks[0] as Chunk) : { type: 'chunks', chunks });
  };
  return (m) => {
    if (m.type === 'chunk') {
      pending.push(m);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return;
    }
    flush();
    send(m);
  };
}

/** Gateway side: the messages a raw IPC message carries (the envelope's chunks, or the message itself). */
export function unpackChunkBatch(raw: unknown): unknown[] {
  if (typeof raw === 'object' && raw !== null) {
    const m = raw as Record<string, unknown>;
    if (m.type === 'chunks' && Array.isArray(m.chunks)) return m.chunks;
  }
  return [raw];
}
