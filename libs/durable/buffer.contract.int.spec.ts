/**
 * One contract, two buffers: the local spool (embedded) and the Redis Stream (cluster). Each case
 * reopens the buffer the way a restarted process would, so "durable" means "survives a new process".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DurableBuffer } from './buffer';
import { RedisStreamBuffer } from './redis-buffer';
import { SpoolBuffer, appendRawForTest } from './spool-buffer';

/** A record about the size of an audit event (~550 bytes of JSON). */
interface TestRecord {
  kind: 'event';
  requestId: string;
  pad: string;
}
type TestBuffer = DurableBuffer<TestRecord>;

interface Harness {
  /** A buffer over the same storage as every other `open()` of this harness. */
  open(): Promise<TestBuffer>;
  /** Simulates a crash mid-write (a torn record), where the implementation can suffer one. */
  tear?(): void;
  dispose(): Promise<void>;
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const harnesses: [string, () => Harness][] = [
  [
    'spool',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'corral-spool-'));
      return {
        open: () => SpoolBuffer.open<TestRecord>({ dir, segmentBytes: 2048 }),
        tear: () => appendRawForTest(dir, '{"kind":"event","event":{"id":"torn'),
        dispose: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
      };
    },
  ],
  [
    'redis-stream',
    () => {
      const prefix = `corral-test:${process.pid}:${Date.now()}:`;
      const conns: Redis[] = [];
      return {
        open: () => {
          const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
          conns.push(redis);
          return Promise.resolve(new RedisStreamBuffer<TestRecord>({ redis, prefix }));
        },
        dispose: async () => {
          const r = conns[0]!;
          const keys = await r.keys(prefix + '*');
          if (keys.length) await r.del(...keys);
          await Promise.all(conns.map((c) => c.quit()));
        },
      };
    },
  ],
];

const rec = (i: number): TestRecord => ({ kind: 'event', requestId: `req-${i}`, pad: 'x'.repeat(500) });
const ids = (es: { record: TestRecord | null }[]) => es.map((e) => e.record?.requestId ?? null);

describe.each(harnesses)('durable buffer contract: %s', (_name, make) => {
  let h: Harness;
  let open: TestBuffer[];
  const fresh = async () => {
    const b = await h.open();
    open.push(b);
    return b;
  };
  beforeEach(() => {
    h = make();
    open = [];
  });
  afterEach(async () => {
    for (const b of open) await b.close();
    await h.dispose();
  });

  it('returns records in append order, across appends and batches', async () => {
    const b = await fresh();
    await b.append([rec(1), rec(2)]);
    await b.append([rec(3)]);
    await Promise.all([b.append([rec(4)]), b.append([rec(5), rec(6)])]);
    expect(ids(await b.read(100))).toEqual(['req-1', 'req-2', 'req-3', 'req-4', 'req-5', 'req-6']);
    expect(ids(await b.read(2))).toEqual(['req-1', 'req-2']);
    expect(await b.pending()).toBe(6);
  });

  it('ack drops everything up to the entry, and only that', async () => {
    const b = await fresh();
    await b.append(Array.from({ length: 5 }, (_, i) => rec(i + 1)));
    const first = await b.read(3);
    await b.ack(first[2]!);
    expect(ids(await b.read(100))).toEqual(['req-4', 'req-5']);
    expect(await b.pending()).toBe(2);
    await b.ack(first[0]!); // an older position is a no-op
    expect(await b.pending()).toBe(2);
  });

  it('keeps unacknowledged records across a restart, and not acknowledged ones', async () => {
    const a = await fresh();
    await a.append(Array.from({ length: 40 }, (_, i) => rec(i + 1))); // several spool segments
    const got = await a.read(25);
    await a.ack(got[24]!);
    await a.close();
    const b = await fresh();
    const rest = await b.read(100);
    expect(ids(rest)).toEqual(Array.from({ length: 15 }, (_, i) => `req-${i + 26}`));
    await b.append([rec(41)]);
    expect(ids(await b.read(100)).at(-1)).toBe('req-41');
  });

  it('tolerates a torn last record after a crash', async () => {
    const a = await fresh();
    await a.append([rec(1), rec(2)]);
    await a.close();
    if (!h.tear) return; // Redis appends whole entries or none
    h.tear();
    const b = await fresh();
    expect(ids(await b.read(100))).toEqual(['req-1', 'req-2']);
    await b.append([rec(3)]);
    expect(ids(await b.read(100))).toEqual(['req-1', 'req-2', 'req-3']);
  });

  it('an empty buffer reads nothing', async () => {
    const b = await fresh();
    expect(await b.read(10)).toEqual([]);
    expect(await b.pending()).toBe(0);
  });
});

describe('spool buffer reads', () => {
  it('reads a large segment in chunks without losing or splitting a record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-spool-'));
    const b = await SpoolBuffer.open<TestRecord>({ dir });
    try {
      const all = Array.from({ length: 3000 }, (_, i) => rec(i)); // ~1.6 MB: several 256 KiB chunks
      await b.append(all);
      const got: (string | null)[] = [];
      for (;;) {
        const page = await b.read(700);
        if (page.length === 0) break;
        got.push(...ids(page));
        await b.ack(page[page.length - 1]!);
      }
      expect(got).toEqual(all.map((_, i) => `req-${i}`));
    } finally {
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
