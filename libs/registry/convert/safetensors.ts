/**
 * Safetensors reader: a u64 header length, a JSON header naming each tensor's dtype, shape and
 * [begin, end) byte range inside the data section, then the data. Only headers are read up front;
 * tensor bytes are read one tensor at a time, so a multi-GB checkpoint never sits in memory whole.
 */
import { open } from 'node:fs/promises';
import { CorralError } from '@corral/common';

/** Element types Corral converts. Others (I8, F8_E4M3, ...) are refused with their name. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Headers larger than this are refused: real ones are a few MiB (safetensors caps them at 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor of a checkpoint, located in its file. */
export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  /** Row-major (PyTorch) shape: the last dimension varies fastest. */
  shape: number[];
  /** Absolute path of the file holding it. */
  file: string;
  /** Absolute byte offset of the data in `file`. */
  offset: number;
  byteLength: number;
}

function bad(file: string, message: string): CorralError {
  return new CorralError('invalid_model_file', `${file}: ${message}`);
}

/**
 * Reads and checks one file's header: JSON well-formed, every dtype supported, byte length equal
 * to the shape's element count times the dtype size, ranges inside the file and not overlapping.
 * `label` names the file in errors (the upload name, not the blob path).
 */
export async function readSafetensorsHeader(path: string, label = path): Promise<SafetensorsTensor[]> {
  const fh = await open(path, 'r').catch(() => {
    throw new CorralError('bad_request', `${label}: file not found`);
  });
  try {
    const { size } = await fh.stat();
    if (size < 8) throw bad(label, `truncated: ${size} bytes, not a safetensors file`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen < 2n || headerLen > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
      throw bad(label, `header length ${headerLen} does not fit the file (${size} bytes)`);
    }
    const n = Number(headerLen);
    const hdr = Buffer.alloc(n);
    await fh.read(hdr, 0, n, 8);
    let json: unknown;
    try {
      json = JSON.parse(hdr.toString('utf8'));
    } catch {
      throw bad(label, 'header is not valid JSON');
    }
    if (!json || typeof json !== 'object' || Array.isArray(json))
      throw bad(label, 'header is not a JSON object');
    const dataStart = 8 + n;
    const dataLen = size - dataStart;
    const out: SafetensorsTensor[] = [];
    for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      out.push(parseEntry(label, path, name, raw, dataStart, dataLen));
    }
    const sorted = [...out].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (cur.offset < prev.offset + prev.byteLength) {
        throw bad(label, `tensors '${prev.name}' and '${cur.name}' overlap`);
      }
    }
    return out;
  } finally {
    await fh.close();
  }
}

function parseEntry(
  label: string,
  path: string,
  name: string,
  raw: unknown,
  dataStart: number,
  dataLen: number,
): SafetensorsTensor {
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  if (!e || typeof e !== 'object') throw bad(label, `tensor '${name}' has no description`);
  const dtype = e.dtype;
  if (typeof dtype !== 'string') throw bad(label, `tensor '${name}' has no dtype`);
  if (!(dtype in DTYPE_BYTES)) {
    throw new CorralError(
      'unsupported',
      `${label}: tensor '${name}' has dtype ${dtype}; only F32, F16 and BF16 are supported`,
    );
  }
  const shape = e.shape;
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
    throw bad(label, `tensor '${name}' has an invalid shape`);
  }
  const offs = e.data_offsets;
  if (
    !Array.isArray(offs) ||
    offs.length !== 2 ||
    !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) ||
    (offs[1] as number) < (offs[0] as number) ||
    (offs[1] as number) > dataLen
  ) {
    throw bad(label, `tensor '${name}' has data offsets outside the file`);
  }
  const [begin, end] = offs as [number, number];
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const bytes = elements * DTYPE_BYTES[dtype as SafetensorsDtype];
  if (bytes !== end - begin) {
    throw bad(
      label,
      `tensor '${name}' (${dtype} [${shape.join(', ')}]) needs ${bytes} bytes but its data holds ${end - begin}`,
    );
  }
  return {
    name,
    dtype: dtype as SafetensorsDtype,
    shape: shape as number[],
    file: path,
    offset: dataStart + begin,
    byteLength: bytes,
  };
}

/** Reads one tensor's raw bytes (little-endian, as stored). */
export async function readTensorBytes(t: SafetensorsTensor): Promise<Buffer> {
  const fh = await open(t.file, 'r');
  try {
    const buf = Buffer.allocUnsafe(t.byteLength);
    let done = 0;
    while (done < t.byteLength) {
      const { bytesRead } = await fh.read(buf, done, t.byteLength - done, t.offset + done);
      if (bytesRead === 0) throw bad(t.file, `tensor '${t.name}' is truncated`);
      done += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** Widens raw tensor bytes of `dtype` to float32. */
export function toFloat32(bytes: Buffer, dtype: SafetensorsDtype): Float32Array {
  const n = bytes.length / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  if (dtype === 'F32') {
    for (let i = 0; i < n; i++) out[i] = bytes.readFloatLE(i * 4);
    return out;
  }
  const u = new Uint32Array(out.buffer);
  if (dtype === 'BF16') {
    for (let i = 0; i < n; i++) u[i] = bytes.readUInt16LE(i * 2) << 16;
    return out;
  }
  for (let i = 0; i < n; i++) out[i] = halfToFloat(bytes.readUInt16LE(i * 2));
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function dtypeBytes(dtype: SafetensorsDtype): number {
  return DTYPE_BYTES[dtype];
}
