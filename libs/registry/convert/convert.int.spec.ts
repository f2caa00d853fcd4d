import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { readGguf } from '../gguf';
import { checkpointFromDir, convertCheckpoint } from './convert';
import { referenceLogits } from './reference-forward';
import { buildTinyHf, type TinyHfCheckpoint, type TinyHfOptions } from './tiny-hf';

// Each family: a random tiny checkpoint is converted, loaded by real llama.cpp, and checked
// against Hugging Face's own tokenizer (tokenizers.js over the same tokenizer.json) and against a
// float32 forward pass written from the HF modeling code.
jest.setTimeout(300_000);

const SAMPLES = [
  'Once upon a time, there was a little girl named Lily.',
  'Hello world! The big dog ran to the park 123 times.',
  'héllo wörld ✓ 日本語',
  'She said: "playing is happy" and he played.',
  'tabs\tand\nnew lines\n\nhere',
];

let dir: string;
let llama: Llama;
const models: LlamaModel[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-convert-'));
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error });
});

afterAll(async () => {
  for (const m of models) await m.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function hfTokenizer(ck: TinyHfCheckpoint) {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  return new Tokenizer(ck.tokenizer.tokenizer, ck.tokenizer.config);
}

async function lastLogits(model: LlamaModel, ids: number[]): Promise<Float32Array> {
  const context = await model.createContext({ contextSize: 64, threads: 1 });
  try {
    const seq = context.getSequence();
    const input = ids.map((id, i) =>
      i === ids.length - 1 ? ([id, { generateNext: { logits: true } }] as const) : id,
    );
    const out = await seq.controlledEvaluate(input as Parameters<typeof seq.controlledEvaluate>[0]);
    const map = out[ids.length - 1]?.next?.logits;
    if (!map) throw new Error('no logits');
    const v = new Float32Array(map.size);
    for (const [t, l] of map) v[t as number] = l;
    return v;
  } finally {
    await context.dispose();
  }
}

const argmax = (v: Float32Array): number => v.reduce((b, x, i, a) => (x > a[b]! ? i : b), 0);

const cases: [string, TinyHfOptions][] = [
  ['llama (F32, padded vocab)', { family: 'llama' }],
  ['llama (F16, 3 shards)', { family: 'llama', dtype: 'F16', shards: 3, seed: 2 }],
  [
    'llama (Llama 3.1 rope scaling)',
    {
      family: 'llama',
      seed: 8,
      ropeScaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 64,
      },
    },
  ],
  ['llama (Llama 3 byte-level tokenizer)', { family: 'llama', seed: 9, llama3Tokenizer: true }],
  ['mistral', { family: 'mistral', seed: 3 }],
  ['qwen2 (tied, q/k/v bias)', { family: 'qwen2', seed: 4 }],
  ['qwen2 (BF16)', { family: 'qwen2', dtype: 'BF16', seed: 5 }],
  ['gemma', { family: 'gemma', seed: 6 }],
];

describe.each(cases)('%s', (label, opts) => {
  let ck: TinyHfCheckpoint;
  let model: LlamaModel;
  let gguf: string;

  beforeAll(async () => {
    const slug = label.replace(/\W+/g, '-');
    ck = await buildTinyHf(join(dir, slug), opts);
    gguf = join(dir, `${slug}.gguf`);
    await convertCheckpoint(await checkpointFromDir(ck.dir), gguf);
    model = await llama.loadModel({ modelPath: gguf });
    models.push(model);
  });

  test('loads in llama.cpp with the architecture and size of the checkpoint', async () => {
    const { metadata } = await readGguf(gguf);
    const arch = { llama: 'llama', mistral: 'llama', qwen2: 'qwen2', gemma: 'gemma' }[opts.family];
    expect(metadata['general.architecture']).toBe(arch);
    const pre = opts.family === 'qwen2' ? 'qwen2' : opts.llama3Tokenizer ? 'llama-bpe' : 'default';
    expect(metadata['tokenizer.ggml.pre']).toBe(pre);
    expect(model.tokens.bos ?? undefined).toBe(ck.tokenizer.bosId);
    expect(model.tokens.eos).toBe(ck.tokenizer.eosId);
    expect(model.fileInfo.tensorInfo?.length).toBeGreaterThan(10);
  });

  test('tokenizes like the Hugging Face tokenizer', async () => {
    const hf = await hfTokenizer(ck);
    for (const s of SAMPLES) {
      const want = hf.encode(s, { add_special_tokens: false }).ids;
      expect({ s, ids: [...model.tokenize(s)] }).toEqual({ s, ids: want });
    }
    if (opts.family === 'qwen2') {
      const chat = '<|im_start|>user\nhello<|im_end|>\n';
      expect([...model.tokenize(chat, true)]).toEqual(hf.encode(chat).ids);
    }
  });

  test('gives the logits of a reference forward pass', async () => {
    const hf = await hfTokenizer(ck);
    const ids = hf.encode('Once upon a time there was a little girl').ids;
    const want = referenceLogits(ck.config, ck.tensors, ids);
    const got = await lastLogits(model, ids);
    expect(got.length).toBe(want.length);
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
    }
    // llama.cpp keeps its KV cache in F16: errors of ~1e-3 of the logit range are expected.
    expect(maxDiff).toBeLessThan(0.01 * maxAbs + 1e-3);
    expect(argmax(got)).toBe(argmax(want));
  });
});
