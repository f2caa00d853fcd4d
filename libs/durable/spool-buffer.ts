/**
 * Embedded buffer: append-only NDJSON segment files in one directory (the audit log's
 * `$CORRAL_HOME/audit-spool/`, the usage writer's `usage-spool/`), each batch written and fsync'd before `append` resolves, and a cursor file (replaced atomically) naming how
 * far the appender has got. A crash can leave a partial last line; it was never acknowledged to a
 * caller, so opening the spool cuts it off. Fully consumed segments are deleted.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonRecord, type BufferedEntry, type DurableBuffer, type RecordParser } from './buffer';
import { fsyncDir } from './fsync';

export interface SpoolOptions<R = unknown> {
  dir: string;
  /** Start a new segment file past this size. Defaults to 8 MiB. */
  segmentBytes?: number;
  /** Reads a stored line back. Defaults to any JSON object (parseJsonRecord). */
  parse?: RecordParser<R>;
}

interface Cursor {
  segment: number;
  offset: number;
}

const READ_CHUNK = 256 * 1024;

const segName = (n: number) => `spool-${String(n).padStart(12, '0')}.ndjson`;

export class SpoolBuffer<R = unknown> implements DurableBuffer<R> {
  private readonly dir: string;
  private readonly parse: RecordParser<R>;
  private readonly segmentBytes: number;
  private cursor: Cursor;
  private current: number;
  private size: number;
  private handle?: FileHandle;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(opts: SpoolOptions<R>) {
    this.dir = opts.dir;
    this.parse = opts.parse ?? parseJsonRecord;
    this.segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.cursor = this.readCursor();
    const segs = this.segments();
    this.current = segs[segs.length - 1] ?? Math.max(1, this.cursor.segment);
    this.size = this.repairTail(this.current);
  }

  static async open<R = unknown>(opts: SpoolOptions<R>): Promise<SpoolBuffer<R>> {
    const b = new SpoolBuffer<R>(opts);
    b.handle = await open(join(b.dir, segName(b.current)), 'a', 0o600);
    fsyncDir(b.dir);
    return b;
  }

  private segments(): number[] {
    return readdirSync(this.dir)
      .map((f) => /^spool-(\d{12})\.ndjson$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  private readCursor(): Cursor {
    try {
      const c = JSON.parse(readFileSync(join(this.dir, 'cursor.json'), 'utf8')) as Cursor;
      if (Number.isInteger(c.segment) && Number.isInteger(c.offset)) return c;
    } catch {
      // No cursor yet: start at the beginning.
    }
    return { segment: 0, offset: 0 };
  }

  /** Cuts a partial last line (a write interrupted by a crash) and returns the file's size. */
  private repairTail(seg: number): number {
    const path = join(this.dir, segName(seg));
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch {
      return 0;
    }
    const end = buf.lastIndexOf(0x0a) + 1;
    if (end < buf.length) truncateSync(path, end);
    return end;
  }

  /** Serialises appends and cursor moves: order on disk is call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn, fn);
    this.tail = p.catch(() => undefined);
    return p;
  }

  append(records: R[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const data = Buffer.from(records.map((r) => JSON.stringify(r) + '\n').join(''));
    return this.serial(async () => {
      if (!this.handle) throw new Error('audit spool is closed');
      if (this.size > 0 && this.size + data.length > this.segmentBytes) {
        await this.handle.close();
        this.current += 1;
        this.size = 0;
        this.handle = await open(join(this.dir, segName(this.current)), 'a', 0o600);
        // A new segment's directory entry must be durable before its records are acknowledged.
        fsyncDir(this.dir);
      }
      await this.handle.write(data);
      await this.handle.sync();
      this.size += data.length;
    });
  }

  async read(limit: number): Promise<BufferedEntry<R>[]> {
    const out: BufferedEntry<R>[] = [];
    for (const seg of this.segments()) {
      if (seg < this.cursor.segment) continue;
      let pos = seg === this.cursor.segment ? this.cursor.offset : 0;
      let fh: FileHandle;
      try {
        fh = await open(join(this.dir, segName(seg)), 'r');
      } catch {
        continue;
      }
      try {
        // Read from the cursor in chunks, not the whole segment: the appender calls this often.
        let carry = Buffer.alloc(0);
        let base = pos;
        while (out.length < limit) {
          const chunk = Buffer.alloc(READ_CHUNK);
          const { bytesRead } = await fh.read(chunk, 0, READ_CHUNK, base + carry.length);
          if (bytesRead === 0) break;
          const buf = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
          let i = 0;
          while (i < buf.length && out.length < limit) {
            const nl = buf.indexOf(0x0a, i);
            if (nl < 0) break; // a line still being written, or cut by the chunk
            const record = this.parse(buf.subarray(i, nl).toString('utf8'));
            i = nl + 1;
            pos = base + i;
            out.push({ position: `${seg}:${pos}`, record });
          }
          carry = buf.subarray(i);
          base = pos;
        }
      } finally {
        await fh.close();
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  ack(upTo: BufferedEntry<R>): Promise<void> {
    const [seg, off] = upTo.position.split(':').map(Number);
    if (seg === undefined || off === undefined || !Number.isInteger(seg) || !Number.isInteger(off))
      return Promise.reject(new Error(`bad spool position ${upTo.position}`));
    return this.serial(async () => {
      if (seg < this.cursor.segment || (seg === this.cursor.segment && off <= this.cursor.offset)) return;
      this.cursor = { segment: seg, offset: off };
      // Off the event loop (fs/promises): the request path shares this thread.
      const tmp = join(this.dir, 'cursor.json.tmp');
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(this.cursor));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.dir, 'cursor.json'));
      // The rename is durable only once the directory entry is. (Losing it would only replay
      // events the appender skips by id; the fsync keeps restarts from re-reading them.)
      const dh = await open(this.dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
      for (const s of this.segments()) {
        if (s < seg) rmSync(join(this.dir, segName(s)), { force: true });
      }
    });
  }

  async pending(): Promise<number> {
    let n = 0;
    for (const seg of this.segments()) {
      if (seg < this.cursor.segment) continue;
      const start = seg === this.cursor.segment ? this.cursor.offset : 0;
      const size = statSync(join(this.dir, segName(seg))).size;
      if (size <= start) continue;
      const buf = await readFile(join(this.dir, segName(seg)));
      for (let i = start; i < buf.length; i++) if (buf[i] === 0x0a) n++;
    }
    return n;
  }

  close(): Promise<void> {
    return this.serial(async () => {
      await this.handle?.close();
      this.handle = undefined;
    });
  }
}

/** Writes a line to a spool directory without opening it (tests simulate a crash with this). */
export function appendRawForTest(dir: string, text: string): void {
  const segs = readdirSync(dir)
    .filter((f) => f.startsWith('spool-'))
    .sort();
  const last = segs[segs.length - 1] ?? segName(1);
  writeFileSync(join(dir, last), text, { flag: 'a' });
}
