import type { FileHandle } from 'node:fs/promises';
import { CorralError } from '@corral/common';

/** Size of the read-ahead window: headers of real models are a few MiB, read in these steps. */
const WINDOW = 1 << 20;

export function invalid(message: string): CorralError {
  return new CorralError('invalid_model_file', message);
}

/**
 * A forward-only little-endian reader over a file handle. It keeps one window of the file in
 * memory, so a header is read in a few large reads whatever the size of the file, and every read
 * is checked against the file size first: a short file gives a clear "truncated" error instead of
 * a RangeError, and no allocation is ever larger than what the file can actually hold.
 */
export class FileCursor {
  private buf = Buffer.alloc(0);
  /** File offset of buf[0]. */
  private bufStart = 0;
  private pos = 0;
  /** What is being read, for error messages ("tensor info 3", "key 'general.name'"). */
  context = 'header';

  constructor(
    private readonly fh: FileHandle,
    readonly fileSize: number,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.fileSize - this.pos;
  }

  private async ensure(n: number): Promise<number> {
    if (n > this.remaining) {
      throw invalid(
        `file is truncated: ${this.context} needs ${n} bytes at offset ${this.pos} but the file has ${this.fileSize} bytes`,
      );
    }
    const at = this.pos - this.bufStart;
    if (at + n <= this.buf.length) return at;
    const size = Math.min(Math.max(n, WINDOW), this.remaining);
    const next = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await this.fh.read(next, got, size - got, this.pos + got);
      // The file shrank under us (or a special file lied about its size): still a clean error.
      if (bytesRead === 0)
        throw invalid(`file is truncated: unexpected end of file at offset ${this.pos + got}`);
      got += bytesRead;
    }
    this.buf = next;
    this.bufStart = this.pos;
    return 0;
  }

  async u8(): Promise<number> {
    const at = await this.ensure(1);
    this.pos += 1;
    return this.buf.readUInt8(at);
  }

  async u32(): Promise<number> {
    const at = await this.ensure(4);
    this.pos += 4;
    return this.buf.readUInt32LE(at);
  }

  async u64(): Promise<bigint> {
    const at = await this.ensure(8);
    this.pos += 8;
    return this.buf.readBigUInt64LE(at);
  }

  /**
   * Reads `count` fixed-size values in window-sized slices, so an array of a million numbers costs
   * a handful of awaits rather than a million.
   */
  async fixedArray<T>(count: number, size: number, decode: (buf: Buffer, at: number) => T): Promise<T[]> {
    const out: T[] = [];
    let left = count;
    while (left > 0) {
      const n = Math.min(left, Math.floor(WINDOW / size));
      const at = await this.ensure(n * size);
      for (let i = 0; i < n; i++) out.push(decode(this.buf, at + i * size));
      this.pos += n * size;
      left -= n;
    }
    return out;
  }

  /** Reads `n` raw bytes; callers bound `n` first (ensure() also bounds it by the file size). */
  async bytes(n: number): Promise<Buffer> {
    if (n <= WINDOW) {
      const at = await this.ensure(n);
      this.pos += n;
      return this.buf.subarray(at, at + n);
    }
    if (n > this.remaining) await this.ensure(n); // throws the truncation error
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(out, got, n - got, this.pos + got);
      if (bytesRead === 0)
        throw invalid(`file is truncated: unexpected end of file at offset ${this.pos + got}`);
      got += bytesRead;
    }
    this.pos += n;
    return out;
  }
}
