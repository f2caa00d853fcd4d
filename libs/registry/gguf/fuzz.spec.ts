import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { readGguf } from './reader';
import { kv, writeGguf } from './writer';

/** Seeded so a failure can be replayed; printed with the failing case. */
const SEED = 0xc0 + 0x4a1;
const CASES = 3000;
const PER_CASE_MS = 2000;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INFLATED = [
  0n,
  1n,
  255n,
  2n ** 16n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n + 1n,
  2n ** 63n,
  2n ** 64n - 1n,
];

describe('readGguf fuzz', () => {
  let dir: string;
  let valid: Buffer;
  let headerEnd: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-fuzz-'));
    const path = join(dir, 'valid.gguf');
    await writeGguf(path, {
      metadata: [
        kv.str('general.architecture', 'llama'),
        kv.u32('llama.block_count', 1),
        kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
        kv.bool('tokenizer.ggml.add_bos_token', true),
        { key: 'big', type: 'uint64', value: 2n ** 60n },
        kv.arr('tokenizer.ggml.tokens', 'string', ['<unk>', '<s>', '</s>', 'a', 'b', '▁the']),
        kv.arr('tokenizer.ggml.scores', 'float32', [0, 0, 0, -1, -2, -3]),
        kv.arr('tokenizer.ggml.token_type', 'int32', [2, 3, 3, 1, 1, 1]),
      ],
      tensors: [
        { name: 'token_embd.weight', type: 'F16', dims: [8, 6], data: new Float32Array(48).fill(0.5) },
        { name: 'output_norm.weight', type: 'F32', dims: [8], data: new Float32Array(8).fill(1) },
        { name: 'blk.0.attn_q.weight', type: 'F32', dims: [8, 8], data: new Float32Array(64) },
      ],
    });
    valid = await readFile(path);
    headerEnd = (await readGguf(path)).dataOffset;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function mutate(rand: () => number): { bytes: Buffer; how: string } {
    const int = (n: number): number => Math.floor(rand() * n);
    const bytes = Buffer.from(valid);
    const kind = int(5);
    // Mostly aim at the header: that is what the reader parses.
    const at = (): number => (rand() < 0.9 ? int(headerEnd) : int(bytes.length));
    switch (kind) {
      case 0: {
        const flips = 1 + int(8);
        for (let i = 0; i < flips; i++) bytes[at()] = int(256);
        return { bytes, how: `${flips} random bytes` };
      }
      case 1: {
        const len = int(bytes.length);
        return { bytes: bytes.subarray(0, len), how: `truncated to ${len}` };
      }
      case 2: {
        const pos = Math.min(at(), bytes.length - 8);
        const v = INFLATED[int(INFLATED.length)]!;
        bytes.writeBigUInt64LE(v, pos);
        return { bytes, how: `u64 ${v} at ${pos}` };
      }
      case 3: {
        const pos = Math.min(at(), bytes.length - 4);
        const v = Number(INFLATED[int(6)]! & 0xffffffffn);
        bytes.writeUInt32LE(v, pos);
        return { bytes, how: `u32 ${v} at ${pos}` };
      }
      default: {
        const pos = at();
        const cut = 1 + int(16);
        const extra = Buffer.from(Array.from({ length: int(16) }, () => int(256)));
        return {
          bytes: Buffer.concat([bytes.subarray(0, pos), extra, bytes.subarray(pos + cut)]),
          how: `splice ${cut}→${extra.length} at ${pos}`,
        };
      }
    }
  }

  it(`survives ${CASES} seeded mutations: parses or throws CorralError('invalid_model_file'), nothing else`, async () => {
    const rand = prng(SEED);
    const path = join(dir, 'mutant.gguf');
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    let accepted = 0;
    const messages = new Set<string>();
    for (let i = 0; i < CASES; i++) {
      const { bytes, how } = mutate(rand);
      await writeFile(path, bytes);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        readGguf(path).then(
          () => 'ok' as const,
          (e: unknown) => e,
        ),
        new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), PER_CASE_MS))),
      ]);
      clearTimeout(timer);
      const label = `case ${i} (seed ${SEED}, ${how})`;
      if (outcome === 'hang') throw new Error(`${label}: readGguf did not finish in ${PER_CASE_MS} ms`);
      if (outcome === 'ok') {
        accepted++;
      } else if (!(outcome instanceof CorralError) || outcome.code !== 'invalid_model_file') {
        throw new Error(`${label}: unexpected ${String(outcome)}`);
      } else {
        messages.add(outcome.message.replace(/\d+/g, 'N'));
      }
      if (i % 100 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    // The file is ~1 KB: a reader trusting an inflated count would allocate gigabytes.
    expect(peakRss - rssBefore).toBeLessThan(256 * 1024 * 1024);
    // Both outcomes happen, and the rejections are varied (the mutations reach many checks).
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(CASES);
    expect(messages.size).toBeGreaterThan(15);
  });
});
