import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointFromDir, convertCheckpoint } from '../convert/convert';
import { buildTinyHf } from '../convert/tiny-hf';
import { readGguf } from '../gguf';
import { quantizeGguf } from './quantize';

// llama.cpp's own quantizer (libllama through koffi, in a child process) on a converted model.
jest.setTimeout(300_000);

let dir: string;
let f32: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-quant-'));
  const ck = await buildTinyHf(join(dir, 'hf'), { family: 'llama' });
  f32 = join(dir, 'f32.gguf');
  await convertCheckpoint(await checkpointFromDir(ck.dir), f32);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function weightTypes(path: string): Promise<Map<string, string>> {
  const { tensors } = await readGguf(path);
  return new Map(tensors.map((t) => [t.name, t.typeName]));
}

async function loads(path: string): Promise<string> {
  const { getLlama, LlamaLogLevel, LlamaCompletion } = await import('node-llama-cpp');
  const llama = await getLlama({
    gpu: false,
    build: 'never',
    skipDownload: true,
    logLevel: LlamaLogLevel.error,
  });
  const model = await llama.loadModel({ modelPath: path });
  const context = await model.createContext({ contextSize: 64, threads: 1 });
  const text = await new LlamaCompletion({ contextSequence: context.getSequence() }).generateCompletion(
    'Once upon',
    {
      maxTokens: 4,
      temperature: 0,
    },
  );
  await context.dispose();
  await model.dispose();
  return text;
}

test.each([
  ['q8_0', 'Q8_0', 'Q8_0'],
  ['q4_K_M', 'Q4_K', 'Q6_K'],
])('quantizes to %s: requested types, smaller, loads', async (type, weight, ffnDown) => {
  const out = join(dir, `${type}.gguf`);
  const statuses: string[] = [];
  await quantizeGguf(f32, out, { type, threads: 1, progress: (s) => statuses.push(s) });
  expect(statuses[0]).toBe(`quantizing F32 model to ${type.toUpperCase()}`);
  expect(statuses.some((s) => /\(\d+\/\d+ tensors\)$/.test(s))).toBe(true);
  const types = await weightTypes(out);
  expect(types.get('blk.0.attn_q.weight')).toBe(weight);
  // Q4_K_M keeps some layers' ffn_down (the last one here) at Q6_K; that mix is what makes it "M".
  expect(types.get('blk.1.ffn_down.weight')).toBe(ffnDown);
  expect(types.get('blk.0.attn_norm.weight')).toBe('F32');
  expect((await stat(out)).size).toBeLessThan((await stat(f32)).size / 3);
  expect(typeof (await loads(out))).toBe('string');
});

test('refuses to quantize a quantized model unless asked', async () => {
  const q8 = join(dir, 'q8_0.gguf');
  const out = join(dir, 'again.gguf');
  await expect(quantizeGguf(q8, out, { type: 'q4_0' })).rejects.toThrow(
    /already quantized \(Q8_0\).*allow_requantize/,
  );
  await expect(stat(out)).rejects.toThrow();
  await quantizeGguf(q8, out, { type: 'q4_0', allowRequantize: true, threads: 1 });
  expect((await weightTypes(out)).get('blk.0.attn_q.weight')).toBe('Q4_0');
});

test('refuses an unknown type, and reports a failing quantizer as an error', async () => {
  await expect(quantizeGguf(f32, join(dir, 'x.gguf'), { type: 'q7_Z' })).rejects.toThrow(
    /unsupported quantization type 'q7_Z'/,
  );
  await expect(
    quantizeGguf(f32, join(dir, 'no-such-dir', 'x.gguf'), { type: 'q8_0', threads: 1 }),
  ).rejects.toThrow(/quantizing to Q8_0 failed/);
});
