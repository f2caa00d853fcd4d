/**
 * A GGUF v3 writer that takes each tensor's bytes from a callback, one tensor at a time, so a
 * conversion holds one tensor in memory rather than the whole model (the registry's `writeGguf`
 * takes every tensor as a Float32Array up front, which suits tiny test models only). Metadata is
 * the same `GgufKV` list. BF16 is written as-is: llama.cpp runs it, and it is lossless.
 */
import { open, rename, rm } from 'node:fs/promises';
import { CorralError } from '@corral/common';
import { GGML_TYPE_BY_NAME, type GgufKV } from '../gguf';
import { fixedSize, ggufTypeId } from '../gguf/ggml-types';

export type StreamTensorType = 'F32' | 'F16' | 'BF16';

export interface StreamTensor {
  name: string;
  type: StreamTensorType;
  /** ggml order: dims[0] varies fastest (the reverse of a PyTorch shape). */
  dims: number[];
  /** Produces exactly elements × type size bytes, little-endian. */
  data: () => Promise<Buffer>;
}

const TYPE_BYTES: Record<StreamTensorType, number> = { F32: 4, F16: 2, BF16: 2 };
const ALIGN = 32;

function bad(message: string): CorralError {
  return new CorralError('invalid_model_file', `cannot write GGUF: ${message}`);
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([len, b]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

function scalar(key: string, type: Exclude<GgufKV['type'], 'array'>, v: unknown): Buffer {
  if (type === 'string') {
    if (typeof v !== 'string') throw bad(`'${key}' expects a string`);
    return str(v);
  }
  if (type === 'bool') return Buffer.from([v ? 1 : 0]);
  const b = Buffer.alloc(fixedSize(type));
  const n = Number(v);
  switch (type) {
    case 'uint8':
      b.writeUInt8(n);
      break;
    case 'int8':
      b.writeInt8(n);
      break;
    case 'uint16':
      b.writeUInt16LE(n);
      break;
    case 'int16':
      b.writeInt16LE(n);
      break;
    case 'uint32':
      b.writeUInt32LE(n);
      break;
    case 'int32':
      b.writeInt32LE(n);
      break;
    case 'float32':
      b.writeFloatLE(n);
      break;
    case 'float64':
      b.writeDoubleLE(n);
      break;
    case 'uint64':
      b.writeBigUInt64LE(BigInt(v as number));
      break;
    case 'int64':
      b.writeBigInt64LE(BigInt(v as number));
      break;
  }
  return b;
}

function header(metadata: GgufKV[], tensors: StreamTensor[]): Buffer {
  const parts: Buffer[] = [Buffer.from('GGUF', 'latin1'), u32(3), u64(tensors.length), u64(metadata.length)];
  const keys = new Set<string>();
  for (const m of metadata) {
    if (keys.has(m.key)) throw bad(`metadata key '${m.key}' is repeated`);
    keys.add(m.key);
    parts.push(str(m.key), u32(ggufTypeId(m.type)));
    if (m.type === 'array') {
      parts.push(u32(ggufTypeId(m.itemType)), u64(m.value.length));
      for (const v of m.value) parts.push(scalar(m.key, m.itemType, v));
    } else {
      parts.push(scalar(m.key, m.type, m.value));
    }
  }
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw bad(`duplicate tensor name '${t.name}'`);
    names.add(t.name);
    parts.push(str(t.name), u32(t.dims.length));
    for (const d of t.dims) parts.push(u64(d));
    parts.push(u32(GGML_TYPE_BY_NAME.get(t.type)!.id), u64(offset));
    offset += pad(tensorBytes(t));
  }
  const h = Buffer.concat(parts);
  return Buffer.concat([h, Buffer.alloc(pad(h.length) - h.length)]);
}

const pad = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function tensorBytes(t: Pick<StreamTensor, 'type' | 'dims'>): number {
  return t.dims.reduce((a, b) => a * b, 1) * TYPE_BYTES[t.type];
}

/**
 * Writes the file beside `path` and renames it into place once complete, so a failure (or an
 * abort between tensors) leaves nothing behind. `onTensor` reports progress after each tensor.
 */
export async function writeGgufStream(
  path: string,
  metadata: GgufKV[],
  tensors: StreamTensor[],
  opts: { signal?: AbortSignal; onTensor?: (done: number, total: number, name: string) => void } = {},
): Promise<number> {
  const head = header(metadata, tensors);
  const tmp = `${path}.${process.pid}.${Date.now()}.partial`;
  const fh = await open(tmp, 'w');
  let total = head.length;
  try {
    await fh.write(head);
    for (const [i, t] of tensors.entries()) {
      opts.signal?.throwIfAborted();
      const data = await t.data();
      const want = tensorBytes(t);
      if (data.length !== want)
        throw bad(`tensor '${t.name}' produced ${data.length} bytes, expected ${want}`);
      await fh.write(data);
      const padding = pad(want) - want;
      if (padding) await fh.write(Buffer.alloc(padding));
      total += want + padding;
      opts.onTensor?.(i + 1, tensors.length, t.name);
    }
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    return total;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}
