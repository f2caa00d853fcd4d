import { open } from 'node:fs/promises';
import { CorralError } from '@corral/common';
import { FileCursor, invalid } from './cursor';
import {
  fixedSize,
  GGML_TYPES,
  GGUF_VALUE_TYPES,
  type GgufScalarType,
  type GgufValueType,
} from './ggml-types';

/** One tensor as the header describes it; no tensor data is read. */
export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the innermost (contiguous) dimension. */
  dims: number[];
  /** ggml type id (GGML_TYPE_*). */
  type: number;
  /** ggml type name, e.g. "F16", "Q4_K". */
  typeName: string;
  /** Absolute byte offset of the tensor data in the file. */
  offset: number;
  /** Size of the tensor data in bytes. */
  size: number;
}

/** Encoded type of one metadata value; `itemType` is set for arrays. */
export interface GgufMetadataType {
  type: GgufValueType;
  itemType?: GgufScalarType;
}

export interface GgufFile {
  version: number;
  /**
   * Values by key: arrays as JS arrays, 64-bit integers as numbers when safe, else bigint. A
   * null-prototype object, so a key such as "__proto__" in a hostile file stays plain data.
   */
  metadata: Record<string, unknown>;
  metadataTypes: Record<string, GgufMetadataType>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  fileSize: number;
}

/**
 * Hard limits on what a header may claim, on top of "must fit in the rest of the file". They are
 * far above any real model (the largest vocabularies hold ~260K tokens) and keep a hostile header
 * from making us build arrays of hundreds of millions of elements out of a large file.
 */
export const GGUF_LIMITS = {
  maxTensors: 1 << 20,
  maxKeys: 1 << 20,
  maxArrayLength: 1 << 24,
  maxStringBytes: 64 << 20,
  maxKeyBytes: 65535,
  /** ggml's GGML_MAX_NAME (64) includes the terminating NUL. */
  maxTensorNameBytes: 63,
  maxDims: 4,
} as const;

const DEFAULT_ALIGNMENT = 32;
/** Smallest possible encodings, used to bound counts by the bytes left in the file. */
const MIN_KV_BYTES = 8 + 1 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 4 + 8;

/** Shows untrusted bytes in an error message without control characters or unbounded length. */
export function printable(s: string | Buffer, max = 80): string {
  const text = typeof s === 'string' ? s : s.toString('latin1');
  const cut = text.length > max ? text.slice(0, max) + '…' : text;
  return cut.replace(/[^\x20-\x7e\u00a0-\uffff]|\\/g, (c) =>
    c === '\\' ? '\\\\' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0').slice(-2),
  );
}

function toNumberIfSafe(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Reads the header of a GGUF file (metadata and tensor table) and checks it thoroughly: magic,
 * version, counts, value types, tensor types and shapes, alignment, and that every tensor's data
 * lies inside the file without overlapping another. Only the header is read, in bounded chunks.
 * Any problem throws CorralError('invalid_model_file') with a message naming it.
 */
export async function readGguf(path: string): Promise<GgufFile> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CorralError('invalid_model_file', `model file not found: ${path}`);
    throw new CorralError('invalid_model_file', `cannot open model file ${path} (${code ?? 'error'})`);
  }
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw invalid(`not a regular file: ${path}`);
    // No catch-all that turns other errors into "invalid file": the fuzz test proves the parser
    // throws nothing but CorralError, and a real I/O error should surface as what it is.
    return await parse(new FileCursor(fh, stat.size));
  } finally {
    await fh.close();
  }
}

async function parse(c: FileCursor): Promise<GgufFile> {
  if (c.fileSize < 4) throw invalid(`not a GGUF file (only ${c.fileSize} bytes)`);
  const magic = await c.bytes(4);
  if (magic.toString('latin1') !== 'GGUF') throw invalid(`not a GGUF file (magic '${printable(magic)}')`);
  const version = await c.u32();
  if (version === 1) throw invalid('GGUF version 1 is not supported (only versions 2 and 3 are)');
  if (version !== 2 && version !== 3) {
    const swapped = Buffer.alloc(4);
    swapped.writeUInt32BE(version);
    const be = swapped.readUInt32LE();
    if (be === 2 || be === 3) throw invalid('big-endian GGUF files are not supported');
    throw invalid(`unsupported GGUF version ${version} (only versions 2 and 3 are supported)`);
  }

  const tensorCount = await readCount(c, 'tensor count', GGUF_LIMITS.maxTensors, MIN_TENSOR_INFO_BYTES);
  const kvCount = await readCount(c, 'metadata key count', GGUF_LIMITS.maxKeys, MIN_KV_BYTES);

  const metadata: Record<string, unknown> = Object.create(null);
  const metadataTypes: Record<string, GgufMetadataType> = Object.create(null);
  for (let i = 0; i < kvCount; i++) {
    c.context = `metadata key ${i}`;
    const key = await readString(c, GGUF_LIMITS.maxKeyBytes, `metadata key ${i}`);
    if (key === '') throw invalid(`metadata key ${i} is empty`);
    if (key in metadataTypes) throw invalid(`duplicate metadata key '${printable(key)}'`);
    c.context = `metadata '${printable(key)}'`;
    const type = await readValueType(c, key);
    if (type === 'array') {
      const itemType = await readValueType(c, key);
      if (itemType === 'array')
        throw invalid(`metadata '${printable(key)}' is an array of arrays, which llama.cpp does not support`);
      metadata[key] = await readArray(c, key, itemType);
      metadataTypes[key] = { type, itemType };
    } else {
      metadata[key] = await readValue(c, key, type);
      metadataTypes[key] = { type };
    }
  }

  let alignment = DEFAULT_ALIGNMENT;
  if ('general.alignment' in metadataTypes) {
    const a = metadata['general.alignment'];
    if (metadataTypes['general.alignment']?.type !== 'uint32' || typeof a !== 'number') {
      throw invalid(`general.alignment must be a uint32, found ${metadataTypes['general.alignment']?.type}`);
    }
    if (a === 0 || (a & (a - 1)) !== 0) throw invalid(`general.alignment ${a} is not a power of two`);
    alignment = a;
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Map<string, number>();
  const relOffsets: bigint[] = [];
  for (let i = 0; i < tensorCount; i++) {
    c.context = `tensor info ${i}`;
    const name = await readString(c, GGUF_LIMITS.maxTensorNameBytes, `tensor name ${i}`);
    const seen = names.get(name);
    if (seen !== undefined)
      throw invalid(`duplicate tensor name '${printable(name)}' (tensors ${seen} and ${i})`);
    names.set(name, i);
    const label = `tensor '${printable(name)}'`;
    c.context = label;
    const nDims = await c.u32();
    if (nDims > GGUF_LIMITS.maxDims)
      throw invalid(`${label} has ${nDims} dimensions (at most ${GGUF_LIMITS.maxDims})`);
    const dims: number[] = [];
    let elements = 1n;
    for (let d = 0; d < nDims; d++) {
      const n = await c.u64();
      if (n === 0n) throw invalid(`${label} has a zero-sized dimension ${d}`);
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`${label} dimension ${d} is too large (${n})`);
      dims.push(Number(n));
      elements *= n;
    }
    const typeId = await c.u32();
    const info = GGML_TYPES.get(typeId);
    if (!info) throw invalid(`${label} has unknown ggml type ${typeId}`);
    const rowLength = dims[0] ?? 1;
    if (rowLength % info.blockSize !== 0) {
      throw invalid(
        `${label} of type ${info.name} has ${rowLength} elements per row, not a multiple of the block size ${info.blockSize}`,
      );
    }
    const bytes = (elements / BigInt(info.blockSize)) * BigInt(info.bytesPerBlock);
    const rel = await c.u64();
    // Anything past the file size fails the bounds check below; clamp so the numbers stay exact.
    const limit = BigInt(c.fileSize) + 1n;
    relOffsets.push(rel);
    tensors.push({
      name,
      dims,
      type: typeId,
      typeName: info.name,
      offset: Number(rel < limit ? rel : limit),
      size: Number(bytes < limit ? bytes : limit),
    });
  }

  // With no tensors there is no data section, and writers may omit the final padding.
  const aligned = Math.ceil(c.offset / alignment) * alignment;
  const dataOffset = tensorCount > 0 ? aligned : Math.min(aligned, c.fileSize);
  if (tensorCount > 0 && dataOffset > c.fileSize) {
    throw invalid(
      `file is truncated: the tensor data section starts at byte ${dataOffset} but the file has ${c.fileSize} bytes`,
    );
  }
  for (const [i, t] of tensors.entries()) {
    const rel = relOffsets[i] ?? 0n;
    if (rel % BigInt(alignment) !== 0n) {
      throw invalid(
        `tensor '${printable(t.name)}' data offset ${rel} is not a multiple of the alignment ${alignment}`,
      );
    }
    const end = BigInt(dataOffset) + rel + BigInt(t.size);
    if (end > BigInt(c.fileSize)) {
      throw invalid(
        `file is truncated: tensor '${printable(t.name)}' ends at byte ${end} but the file has ${c.fileSize} bytes`,
      );
    }
    t.offset += dataOffset;
  }
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1]!;
    const cur = byOffset[i]!;
    if (cur.offset < prev.offset + prev.size) {
      throw invalid(
        `tensors '${printable(prev.name)}' and '${printable(cur.name)}' overlap (bytes ${prev.offset}-${prev.offset + prev.size} and ${cur.offset}-${cur.offset + cur.size})`,
      );
    }
  }
  return { version, metadata, metadataTypes, tensors, alignment, dataOffset, fileSize: c.fileSize };
}

async function readCount(c: FileCursor, what: string, max: number, minBytesEach: number): Promise<number> {
  const n = await c.u64();
  if (n > BigInt(max)) throw invalid(`${what} ${n} exceeds the limit of ${max}`);
  const count = Number(n);
  if (count * minBytesEach > c.remaining) {
    throw invalid(`${what} ${count} is too large for a file of ${c.fileSize} bytes`);
  }
  return count;
}

async function readString(c: FileCursor, max: number, what: string): Promise<string> {
  const n = await c.u64();
  if (n > BigInt(max)) throw invalid(`${what} is too long (${n} bytes, at most ${max})`);
  if (n > BigInt(c.remaining)) {
    throw invalid(
      `file is truncated: ${what} claims ${n} bytes at offset ${c.offset} but the file has ${c.fileSize} bytes`,
    );
  }
  return (await c.bytes(Number(n))).toString('utf8');
}

async function readValueType(c: FileCursor, key: string): Promise<GgufValueType> {
  const id = await c.u32();
  const type = GGUF_VALUE_TYPES[id];
  if (type === undefined) throw invalid(`metadata '${printable(key)}' has unknown value type ${id}`);
  return type;
}

function decoder(key: string, type: Exclude<GgufScalarType, 'string'>): (b: Buffer, at: number) => unknown {
  switch (type) {
    case 'uint8':
      return (b, at) => b.readUInt8(at);
    case 'int8':
      return (b, at) => b.readInt8(at);
    case 'uint16':
      return (b, at) => b.readUInt16LE(at);
    case 'int16':
      return (b, at) => b.readInt16LE(at);
    case 'uint32':
      return (b, at) => b.readUInt32LE(at);
    case 'int32':
      return (b, at) => b.readInt32LE(at);
    case 'float32':
      return (b, at) => b.readFloatLE(at);
    case 'float64':
      return (b, at) => b.readDoubleLE(at);
    case 'uint64':
      return (b, at) => toNumberIfSafe(b.readBigUInt64LE(at));
    case 'int64':
      return (b, at) => toNumberIfSafe(b.readBigInt64LE(at));
    case 'bool':
      return (b, at) => {
        const v = b.readUInt8(at);
        if (v > 1) throw invalid(`metadata '${printable(key)}' has an invalid bool value ${v}`);
        return v === 1;
      };
  }
}

async function readValue(c: FileCursor, key: string, type: GgufScalarType): Promise<unknown> {
  if (type === 'string') return readString(c, GGUF_LIMITS.maxStringBytes, `metadata '${printable(key)}'`);
  const [v] = await c.fixedArray(1, fixedSize(type), decoder(key, type));
  return v;
}

async function readArray(c: FileCursor, key: string, itemType: GgufScalarType): Promise<unknown[]> {
  const label = `metadata '${printable(key)}'`;
  const n = await c.u64();
  if (n > BigInt(GGUF_LIMITS.maxArrayLength)) {
    throw invalid(`${label} array length ${n} exceeds the limit of ${GGUF_LIMITS.maxArrayLength}`);
  }
  const count = Number(n);
  // Strings carry at least their 8-byte length each.
  const minEach = itemType === 'string' ? 8 : fixedSize(itemType);
  if (count * minEach > c.remaining) {
    throw invalid(
      `file is truncated: ${label} array of ${count} ${itemType} values does not fit in the ${c.remaining} bytes left`,
    );
  }
  if (itemType !== 'string') return c.fixedArray(count, minEach, decoder(key, itemType));
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(await readString(c, GGUF_LIMITS.maxStringBytes, `${label}[${i}]`));
  return out;
}
