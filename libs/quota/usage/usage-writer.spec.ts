import { BatchedUsageWriter } from './usage-writer';
import type { UsageBatchWriter, UsageRecord } from './usage.types';

/** A database stand-in that is down for the first `failures` batches and keeps rows by request id. */
class FlakyTable implements UsageBatchWriter {
  rows = new Map<string, UsageRecord>();
  batches: number[] = [];
  constructor(private failures: number) {}
  insertBatch(records: UsageRecord[]): Promise<number> {
    if (this.failures-- > 0) return Promise.reject(new Error('connection refused'));
    this.batches.push(records.length);
    let n = 0;
    for (const r of records) if (!this.rows.has(r.requestId) && this.rows.set(r.requestId, r)) n++;
    return Promise.resolve(n);
  }
}

const rec = (i: number): UsageRecord => ({
  ts: new Date(),
  requestId: `r${i}`,
  model: 'tiny',
  promptTokens: 1,
  completionTokens: 1,
  durationMs: 1,
  status: 'ok',
});

describe('BatchedUsageWriter', () => {
  it('batches in order without the caller waiting, and keeps records through an outage', async () => {
    const table = new FlakyTable(2);
    const w = new BatchedUsageWriter(table, { batchSize: 50, flushMs: 10 });
    for (let i = 0; i < 120; i++) w.record(rec(i));
    expect(w.pending).toBe(120); // record() only queues
    const until = Date.now() + 5000;
    while (w.pending && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await w.close();
    expect(table.batches).toEqual([50, 50, 20]);
    expect([...table.rows.keys()]).toEqual(Array.from({ length: 120 }, (_, i) => `r${i}`));
    expect(w.written).toBe(120);
  });

  it('drops (and counts) the newest records when the queue is full rather than grow without bound', async () => {
    const table = new FlakyTable(1000);
    const w = new BatchedUsageWriter(table, { batchSize: 10, flushMs: 1000, maxQueued: 25 });
    for (let i = 0; i < 30; i++) w.record(rec(i));
    expect(w.pending).toBe(25);
    expect(w.dropped).toBe(5);
    await expect(w.flush()).rejects.toThrow('connection refused');
  });
});
