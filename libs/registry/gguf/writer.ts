import { open, rename, rm } from 'node:fs/promises';
import { CorralError } from '@corral/common';
import { fixedSize, GGML_TYPE_BY_NAME, ggufTypeId, type GgufScalarType } from './ggml-types';

type Scalar = number | bigint | boolean | string;

/** One typed metadata entry to write. */
export type GgufKV =
  | { key: string; type: GgufScalarType; value: Scalar }
  | { key: string; type: 'array'; itemType: GgufScalarType; value: readonly Scalar[] };

/** One tensor to write; `data` holds the elements in ggml order (dims[0] varies fastest). */
export interface GgufWriteTensor {
  name: string;
  /** Storage type on disk; F16 data is rounded to nearest even. */
  type: 'F32' | 'F16';
  dims: number[];
  data: Float32Array;
}

export interface GgufWriteOptions {
  metadata: GgufKV[];
  tensors: GgufWriteTensor[];
  /** Alignment of tensor data, a power of two. Defaults to 32 (GGUF's default); any other value is also written as general.alignment. */
  alignment?: number;
}

/** Shorthands for building typed metadata entries. */
export const kv = {
  str: (key: string, value: string): GgufKV => ({ key, type: 'string', value }),
  u32: (key: string, value: number): GgufKV => ({ key, type: 'uint32', value }),
  i32: (key: string, value: number): GgufKV => ({ key, type: 'int32', value }),
  f32: (key: string, value: number): GgufKV => ({ key, type: 'float32', value }),
  bool: (key: string, value: boolean): GgufKV => ({ key, type: 'bool', value }),
  arr: (key: string, itemType: GgufScalarType, value: readonly Scalar[]): GgufKV => ({
    key,
    type: 'array',
    itemType,
    value,
  }),
};

function bad(message: string): CorralError {
  return new CorralError('invalid_model_file', `cannot write GGUF: ${message}`);
}

/** Encodes metadata into a growable list of buffers. */
class Encoder {
  readonly parts: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  scalar(key: string, type: GgufScalarType, v: Scalar): void {
    if (type === 'string') {
      if (typeof v !== 'string') throw bad(`'${key}' expects a string, got ${typeof v}`);
      return this.str(v);
    }
    if (type === 'bool') {
      if (typeof v !== 'boolean') throw bad(`'${key}' expects a boolean, got ${typeof v}`);
      return this.push(Buffer.from([v ? 1 : 0]));
    }
    if (typeof v !== 'number' && typeof v !== 'bigint')
      throw bad(`'${key}' expects a number, got ${typeof v}`);
    const b = Buffer.alloc(fixedSize(type));
    try {
      switch (type) {
        case 'uint8':
          b.writeUInt8(Number(v));
          break;
        case 'int8':
          b.writeInt8(Number(v));
          break;
        case 'uint16':
          b.writeUInt16LE(Number(v));
          break;
        case 'int16':
          b.writeInt16LE(Number(v));
          break;
        case 'uint32':
          b.writeUInt32LE(Number(v));
          break;
        case 'int32':
          b.writeInt32LE(Number(v));
          break;
        case 'float32':
          b.writeFloatLE(Number(v));
          break;
        case 'float64':
          b.writeDoubleLE(Number(v));
          break;
        case 'uint64':
          b.writeBigUInt64LE(BigInt(v));
          break;
        case 'int64':
          b.writeBigInt64LE(BigInt(v));
          break;
      }
    } catch (e) {
      throw bad(`'${key}' value ${String(v)} does not fit ${type} (${(e as Error).message})`);
    }
    this.push(b);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `v`, rounded to nearest even (what numpy's astype(float16) does). */
export function toFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and overflows to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

const CHUNK_ELEMENTS = 1 << 18;

function encodeChunk(t: GgufWriteTensor, from: number, to: number): Buffer {
  const n = to - from;
  if (t.type === 'F32') {
    const b = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) b.writeFloatLE(t.data[from + i]!, i * 4);
    return b;
  }
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeUInt16LE(toFloat16Bits(t.data[from + i]!), i * 2);
  return b;
}

/**
 * Writes a GGUF v3 file: header first, then each tensor's data converted in bounded chunks. The
 * file appears under `path` only once complete (written beside it, then renamed), so a failure
 * never leaves a half-written model behind.
 */
export async function writeGguf(path: string, opts: GgufWriteOptions): Promise<void> {
  const alignment = opts.alignment ?? 32;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw bad(`alignment ${alignment} is not a power of two`);
  }
  const metadata = [...opts.metadata];
  const given = metadata.find((m) => m.key === 'general.alignment');
  if (given && (given.type !== 'uint32' || given.value !== alignment)) {
    throw bad(`general.alignment must be a uint32 equal to the alignment option (${alignment})`);
  }
  if (!given && alignment !== 32) metadata.push(kv.u32('general.alignment', alignment));
  const keys = new Set<string>();
  for (const m of metadata) {
    if (!m.key || keys.has(m.key)) throw bad(`metadata key '${m.key}' is empty or repeated`);
    keys.add(m.key);
  }

  const enc = new Encoder();
  enc.push(Buffer.from('GGUF', 'latin1'));
  enc.u32(3);
  enc.u64(opts.tensors.length);
  enc.u64(metadata.length);
  for (const m of metadata) {
    enc.str(m.key);
    enc.u32(ggufTypeId(m.type));
    if (m.type === 'array') {
      enc.u32(ggufTypeId(m.itemType));
      enc.u64(m.value.length);
      for (const v of m.value) enc.scalar(m.key, m.itemType, v);
    } else {
      enc.scalar(m.key, m.type, m.value);
    }
  }

  const pad = (n: number): number => Math.ceil(n / alignment) * alignment;
  const names = new Set<string>();
  let offset = 0;
  for (const t of opts.tensors) {
    if (names.has(t.name)) throw bad(`duplicate tensor name '${t.name}'`);
    names.add(t.name);
    if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw bad(`tensor '${t.name}' has invalid dims [${t.dims.join(', ')}]`);
    }
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) {
      throw bad(
        `tensor '${t.name}' has ${t.data.length} values but dims [${t.dims.join(', ')}] need ${elements}`,
      );
    }
    enc.str(t.name);
    enc.u32(t.dims.length);
    for (const d of t.dims) enc.u64(d);
    enc.u32(GGML_TYPE_BY_NAME.get(t.type)!.id);
    enc.u64(offset);
    offset += pad(elements * (t.type === 'F32' ? 4 : 2));
  }
  enc.push(Buffer.alloc(pad(enc.length) - enc.length));

  const tmp = `${path}.${process.pid}.${Date.now()}.partial`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(Buffer.concat(enc.parts));
    for (const t of opts.tensors) {
      let written = 0;
      for (let from = 0; from < t.data.length; from += CHUNK_ELEMENTS) {
        const chunk = encodeChunk(t, from, Math.min(t.data.length, from + CHUNK_ELEMENTS));
        await fh.write(chunk);
        written += chunk.length;
      }
      await fh.write(Buffer.alloc(pad(written) - written));
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}
