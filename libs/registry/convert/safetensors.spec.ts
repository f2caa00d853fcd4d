import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { readSafetensorsHeader, readTensorBytes, toFloat32 } from './safetensors';
import { writeSafetensors } from './tiny-hf';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-st-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function file(header: unknown, data = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

async function headerOf(bytes: Buffer) {
  const p = join(dir, `f-${Math.random()}.safetensors`);
  await writeFile(p, bytes);
  return readSafetensorsHeader(p, 'x.safetensors');
}

test('reads F32, F16 and BF16 tensors back exactly', async () => {
  const p = join(dir, 'ok.safetensors');
  const f16 = Buffer.alloc(4);
  f16.writeUInt16LE(0x3c00, 0); // 1.0
  f16.writeUInt16LE(0xc000, 2); // -2.0
  const bf16 = Buffer.alloc(4);
  bf16.writeUInt16LE(0x3fc0, 0); // 1.5
  bf16.writeUInt16LE(0x4049, 2); // 3.140625
  await writeSafetensors(p, [
    { name: 'a', dtype: 'F32', shape: [2], bytes: Buffer.from(new Float32Array([0.25, -7]).buffer) },
    { name: 'b', dtype: 'F16', shape: [1, 2], bytes: f16 },
    { name: 'c', dtype: 'BF16', shape: [2], bytes: bf16 },
  ]);
  const t = await readSafetensorsHeader(p);
  const values = await Promise.all(t.map(async (x) => [...toFloat32(await readTensorBytes(x), x.dtype)]));
  expect(values).toEqual([
    [0.25, -7],
    [1, -2],
    [1.5, 3.140625],
  ]);
});

test.each([
  ['a header longer than the file', Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]), /header length/],
  [
    'a non-JSON header',
    Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{')]),
    /not valid JSON/,
  ],
  [
    'offsets past the end',
    file({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, Buffer.alloc(8)),
    /outside the file/,
  ],
  [
    'a shape that disagrees with the bytes',
    file({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8)),
    /needs 12 bytes but its data holds 8/,
  ],
  [
    'overlapping tensors',
    file(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      Buffer.alloc(12),
    ),
    /overlap/,
  ],
  [
    'an unsupported dtype',
    file({ t: { dtype: 'I8', shape: [2], data_offsets: [0, 2] } }, Buffer.alloc(2)),
    /dtype I8; only F32, F16 and BF16/,
  ],
])('refuses %s, naming the file', async (_l, bytes, message) => {
  const err = await headerOf(bytes).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CorralError);
  expect((err as Error).message).toMatch(/^x\.safetensors: /);
  expect((err as Error).message).toMatch(message);
});

test('fuzz: mutated and truncated files give a CorralError or a consistent header, never a crash', async () => {
  const good = file(
    {
      __metadata__: { format: 'pt' },
      w: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 12] },
      b: { dtype: 'F32', shape: [3], data_offsets: [12, 24] },
    },
    Buffer.alloc(24, 1),
  );
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 400; i++) {
    const b = Buffer.from(good);
    const flips = 1 + rnd(4);
    for (let j = 0; j < flips; j++) b[rnd(b.length)] = rnd(256);
    const cut = rnd(3) === 0 ? b.subarray(0, rnd(b.length)) : b;
    try {
      const tensors = await headerOf(cut);
      for (const t of tensors) expect(t.offset + t.byteLength).toBeLessThanOrEqual(cut.length);
    } catch (e) {
      expect(e).toBeInstanceOf(CorralError);
    }
  }
});
