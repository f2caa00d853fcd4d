import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { readGguf } from './reader';
import { kv, toFloat16Bits, writeGguf, type GgufKV } from './writer';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-gguf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Hand-encoded GGUF pieces, so each test can break exactly one thing.
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const str = (s: string): Buffer => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
const kvString = (key: string, v: string): Buffer => Buffer.concat([str(key), u32(8), str(v)]);
const kvU32 = (key: string, v: number): Buffer => Buffer.concat([str(key), u32(4), u32(v)]);
const tensorInfo = (name: string, dims: (number | bigint)[], type = 0, offset: number | bigint = 0): Buffer =>
  Buffer.concat([str(name), u32(dims.length), ...dims.map(u64), u32(type), u64(offset)]);

interface Raw {
  magic?: string;
  version?: number;
  kvs?: Buffer[];
  tensors?: Buffer[];
  nTensors?: bigint;
  nKv?: bigint;
  alignment?: number;
  dataBytes?: number;
}
function raw(r: Raw): Buffer {
  const tensors = r.tensors ?? [];
  const kvs = r.kvs ?? [kvString('general.architecture', 'llama')];
  const head = Buffer.concat([
    Buffer.from(r.magic ?? 'GGUF', 'latin1'),
    u32(r.version ?? 3),
    u64(r.nTensors ?? BigInt(tensors.length)),
    u64(r.nKv ?? BigInt(kvs.length)),
    ...kvs,
    ...tensors,
  ]);
  const align = r.alignment ?? 32;
  const padded = Math.ceil(head.length / align) * align;
  return Buffer.concat([head, Buffer.alloc(padded - head.length), Buffer.alloc(r.dataBytes ?? 0)]);
}

let n = 0;
async function parseBytes(bytes: Buffer): Promise<ReturnType<typeof readGguf>> {
  const path = join(dir, `t${n++}.gguf`);
  await writeFile(path, bytes);
  return readGguf(path);
}
async function rejection(bytes: Buffer): Promise<string> {
  const err = await parseBytes(bytes).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CorralError);
  expect((err as CorralError).code).toBe('invalid_model_file');
  return (err as CorralError).message;
}

describe('writeGguf → readGguf round trip', () => {
  it('keeps every metadata type, tensor shape, offset and byte', async () => {
    const metadata: GgufKV[] = [
      kv.str('general.architecture', 'llama'),
      { key: 'u8', type: 'uint8', value: 255 },
      { key: 'i8', type: 'int8', value: -128 },
      { key: 'u16', type: 'uint16', value: 65535 },
      { key: 'i16', type: 'int16', value: -32768 },
      kv.u32('u32', 4294967295),
      kv.i32('i32', -2147483648),
      kv.f32('f32', 0.5),
      { key: 'f64', type: 'float64', value: Math.PI },
      kv.bool('yes', true),
      kv.bool('no', false),
      { key: 'u64.small', type: 'uint64', value: 12345n },
      { key: 'u64.big', type: 'uint64', value: 2n ** 64n - 1n },
      { key: 'i64.neg', type: 'int64', value: -(2n ** 63n) },
      kv.str('unicode', 'héllo ▁wörld 😀'),
      kv.arr('arr.str', 'string', ['a', '', 'ß']),
      kv.arr('arr.i32', 'int32', [1, -2, 3]),
      kv.arr('arr.f32', 'float32', [0.25, -1]),
      kv.arr('arr.bool', 'bool', [true, false]),
      kv.arr('arr.empty', 'uint8', []),
    ];
    const a = Float32Array.from({ length: 12 }, (_, i) => i - 5.5);
    const b = Float32Array.from([1, -2, 0.5, 65504, 1e-8, 3.14159]);
    const path = join(dir, 'round.gguf');
    await writeGguf(path, {
      metadata,
      alignment: 64,
      tensors: [
        { name: 'a', type: 'F32', dims: [4, 3], data: a },
        { name: 'b', type: 'F16', dims: [6], data: b },
      ],
    });
    const f = await readGguf(path);
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(64);
    expect(f.metadata).toMatchObject({
      'general.architecture': 'llama',
      u8: 255,
      i8: -128,
      u16: 65535,
      i16: -32768,
      u32: 4294967295,
      i32: -2147483648,
      f32: 0.5,
      f64: Math.PI,
      yes: true,
      no: false,
      'u64.small': 12345,
      'u64.big': 2n ** 64n - 1n,
      'i64.neg': -(2n ** 63n),
      unicode: 'héllo ▁wörld 😀',
      'arr.str': ['a', '', 'ß'],
      'arr.i32': [1, -2, 3],
      'arr.f32': [0.25, -1],
      'arr.bool': [true, false],
      'arr.empty': [],
      'general.alignment': 64,
    });
    expect(f.metadataTypes['arr.str']).toEqual({ type: 'array', itemType: 'string' });
    expect(f.metadataTypes['u64.big']).toEqual({ type: 'uint64' });
    expect(f.dataOffset % 64).toBe(0);
    expect(f.tensors).toEqual([
      { name: 'a', dims: [4, 3], type: 0, typeName: 'F32', offset: f.dataOffset, size: 48 },
      { name: 'b', dims: [6], type: 1, typeName: 'F16', offset: f.dataOffset + 64, size: 12 },
    ]);
    const bytes = await readFile(path);
    const back = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + f.dataOffset, bytes.byteOffset + f.dataOffset + 48),
    );
    expect(Array.from(back)).toEqual(Array.from(a));
    const halves = Array.from({ length: 6 }, (_, i) => bytes.readUInt16LE(f.dataOffset + 64 + i * 2));
    expect(halves).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0000, 0x4248]);
  });

  it('rounds to float16 like IEEE 754 (nearest even, subnormals, overflow)', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(5.960464477539063e-8)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(6.103515625e-5)).toBe(0x0400); // smallest normal
    expect(toFloat16Bits(65520)).toBe(0x7c00); // rounds up to infinity
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(toFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
  });

  it('refuses to write inconsistent input and leaves no file behind', async () => {
    const path = join(dir, 'bad-write.gguf');
    await expect(
      writeGguf(path, {
        metadata: [],
        tensors: [{ name: 'x', type: 'F32', dims: [3], data: new Float32Array(2) }],
      }),
    ).rejects.toThrow("tensor 'x' has 2 values but dims [3] need 3");
    await expect(writeGguf(path, { metadata: [kv.u32('k', -1)], tensors: [] })).rejects.toThrow(
      "'k' value -1 does not fit uint32",
    );
    await expect(readFile(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('readGguf rejections', () => {
  it('names the magic it found', async () => {
    expect(await rejection(Buffer.from('PK\x03\x04 rest of a zip', 'latin1'))).toBe(
      "not a GGUF file (magic 'PK\\x03\\x04')",
    );
    expect(await rejection(Buffer.from('GG'))).toBe('not a GGUF file (only 2 bytes)');
  });

  it('refuses versions other than 2 and 3', async () => {
    expect(await rejection(raw({ version: 1 }))).toBe(
      'GGUF version 1 is not supported (only versions 2 and 3 are)',
    );
    expect(await rejection(raw({ version: 4 }))).toBe(
      'unsupported GGUF version 4 (only versions 2 and 3 are supported)',
    );
    expect(await rejection(raw({ version: 0x03000000 }))).toBe('big-endian GGUF files are not supported');
    expect((await parseBytes(raw({ version: 2 }))).version).toBe(2);
  });

  it('bounds counts by limits and by the file size', async () => {
    expect(await rejection(raw({ nTensors: 2n ** 63n }))).toBe(
      `tensor count ${2n ** 63n} exceeds the limit of 1048576`,
    );
    expect(await rejection(raw({ nTensors: 1000n }))).toMatch(
      /^tensor count 1000 is too large for a file of \d+ bytes$/,
    );
    expect(await rejection(raw({ nKv: 1000n }))).toMatch(
      /^metadata key count 1000 is too large for a file of \d+ bytes$/,
    );
    const bigArray = Buffer.concat([str('a'), u32(9), u32(4), u64(1_000_000)]);
    expect(await rejection(raw({ kvs: [bigArray] }))).toMatch(
      /^file is truncated: metadata 'a' array of 1000000 uint32 values does not fit in the \d+ bytes left$/,
    );
    const hugeArray = Buffer.concat([str('a'), u32(9), u32(8), u64(2n ** 40n)]);
    expect(await rejection(raw({ kvs: [hugeArray] }))).toBe(
      `metadata 'a' array length ${2n ** 40n} exceeds the limit of 16777216`,
    );
    const longString = Buffer.concat([str('k'), u32(8), u64(5000), Buffer.from('abc')]);
    expect(await rejection(raw({ kvs: [longString] }))).toMatch(
      /^file is truncated: metadata 'k' claims 5000 bytes at offset \d+ but the file has \d+ bytes$/,
    );
    const hugeString = Buffer.concat([str('k'), u32(8), u64(2n ** 62n)]);
    expect(await rejection(raw({ kvs: [hugeString] }))).toBe(
      `metadata 'k' is too long (${2n ** 62n} bytes, at most 67108864)`,
    );
  });

  it('refuses unknown or nested value types, bad bools, empty and duplicate keys', async () => {
    expect(await rejection(raw({ kvs: [Buffer.concat([str('k'), u32(13), u32(0)])] }))).toBe(
      "metadata 'k' has unknown value type 13",
    );
    expect(await rejection(raw({ kvs: [Buffer.concat([str('k'), u32(9), u32(9), u64(0)])] }))).toBe(
      "metadata 'k' is an array of arrays, which llama.cpp does not support",
    );
    expect(await rejection(raw({ kvs: [Buffer.concat([str('k'), u32(7), Buffer.from([2])])] }))).toBe(
      "metadata 'k' has an invalid bool value 2",
    );
    expect(await rejection(raw({ kvs: [kvU32('', 1)] }))).toBe('metadata key 0 is empty');
    expect(await rejection(raw({ kvs: [kvU32('k', 1), kvU32('k', 2)] }))).toBe("duplicate metadata key 'k'");
  });

  it('checks general.alignment', async () => {
    expect(await rejection(raw({ kvs: [kvU32('general.alignment', 48)] }))).toBe(
      'general.alignment 48 is not a power of two',
    );
    expect(await rejection(raw({ kvs: [kvU32('general.alignment', 0)] }))).toBe(
      'general.alignment 0 is not a power of two',
    );
    expect(await rejection(raw({ kvs: [kvString('general.alignment', '32')] }))).toBe(
      'general.alignment must be a uint32, found string',
    );
  });

  it('checks tensor types, shapes and names', async () => {
    const t = (info: Buffer, dataBytes = 4096): Promise<string> =>
      rejection(raw({ tensors: [info], dataBytes }));
    expect(await t(tensorInfo('w', [4], 4))).toBe("tensor 'w' has unknown ggml type 4");
    expect(await t(tensorInfo('w', [4], 43))).toBe("tensor 'w' has unknown ggml type 43");
    expect(await t(tensorInfo('w', [1, 1, 1, 1, 1]))).toBe("tensor 'w' has 5 dimensions (at most 4)");
    expect(await t(tensorInfo('w', [4, 0]))).toBe("tensor 'w' has a zero-sized dimension 1");
    expect(await t(tensorInfo('w', [2n ** 60n]))).toBe(`tensor 'w' dimension 0 is too large (${2n ** 60n})`);
    expect(await t(tensorInfo('w', [10, 2], 2))).toBe(
      "tensor 'w' of type Q4_0 has 10 elements per row, not a multiple of the block size 32",
    );
    expect(await t(tensorInfo('x'.repeat(64), [4]))).toBe('tensor name 0 is too long (64 bytes, at most 63)');
    expect(
      await rejection(raw({ tensors: [tensorInfo('w', [4]), tensorInfo('w', [4], 0, 32)], dataBytes: 64 })),
    ).toBe("duplicate tensor name 'w' (tensors 0 and 1)");
  });

  it('checks where tensor data lies', async () => {
    expect(await rejection(raw({ tensors: [tensorInfo('w', [4], 0, 8)], dataBytes: 64 }))).toBe(
      "tensor 'w' data offset 8 is not a multiple of the alignment 32",
    );
    expect(
      await rejection(raw({ tensors: [tensorInfo('a', [16]), tensorInfo('b', [8], 0, 32)], dataBytes: 128 })),
    ).toMatch(/^tensors 'a' and 'b' overlap \(bytes \d+-\d+ and \d+-\d+\)$/);
    const bytes = raw({ tensors: [tensorInfo('w', [64, 2], 1)], dataBytes: 256 });
    const cut = bytes.subarray(0, bytes.length - 100);
    expect(await rejection(cut)).toBe(
      `file is truncated: tensor 'w' ends at byte ${bytes.length} but the file has ${cut.length} bytes`,
    );
    expect(await rejection(raw({ tensors: [tensorInfo('w', [4], 0, 2n ** 63n)], dataBytes: 64 }))).toMatch(
      /^file is truncated: tensor 'w' ends at byte \d+ but the file has \d+ bytes$/,
    );
  });

  it('reports a header cut short, and missing files', async () => {
    const full = raw({ kvs: [kvString('general.architecture', 'llama'), kvU32('llama.block_count', 2)] });
    expect(await rejection(full.subarray(0, 100))).toMatch(
      /^file is truncated: metadata .llama.block_count. needs \d+ bytes at offset \d+ but the file has 100 bytes$/,
    );
    expect(await rejection(full.subarray(0, 10))).toBe(
      'file is truncated: header needs 8 bytes at offset 8 but the file has 10 bytes',
    );
    await expect(readGguf(join(dir, 'nope.gguf'))).rejects.toMatchObject({
      code: 'invalid_model_file',
      message: `model file not found: ${join(dir, 'nope.gguf')}`,
    });
    await expect(readGguf(dir)).rejects.toMatchObject({
      code: 'invalid_model_file',
      message: `not a regular file: ${dir}`,
    });
  });

  it('accepts every current ggml type with its block size', async () => {
    // [type id, elements, expected bytes]
    const cases: [number, number, number][] = [
      [2, 32, 18],
      [12, 256, 144],
      [14, 256, 210],
      [16, 256, 66],
      [30, 4, 8],
      [34, 256, 54],
      [39, 32, 17],
      [40, 64, 36],
      [41, 128, 18],
    ];
    for (const [type, elements, size] of cases) {
      const f = await parseBytes(raw({ tensors: [tensorInfo('w', [elements], type)], dataBytes: 256 }));
      expect(f.tensors[0]).toMatchObject({ type, size });
    }
  });
});
