import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { readGguf } from '../gguf';
import { checkpointFromDir, convertCheckpoint } from './convert';
import { buildTinyBert, referenceBertEmbedding, type TinyBert } from './tiny-bert';

// A BERT-style embedding model: converted, loaded by llama.cpp, tokenized like HF's WordPiece,
// and embedding like a reference BertModel with mean pooling.
jest.setTimeout(120_000);

let dir: string;
let llama: Llama;
let model: LlamaModel;
let bert: TinyBert;
let gguf: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-bert-'));
  bert = await buildTinyBert(join(dir, 'hf'));
  gguf = join(dir, 'bert.gguf');
  await convertCheckpoint(await checkpointFromDir(bert.dir), gguf);
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error });
  model = await llama.loadModel({ modelPath: gguf });
});
afterAll(async () => {
  await model?.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('writes a non-causal bert GGUF with mean pooling', async () => {
  const { metadata, tensors } = await readGguf(gguf);
  expect(metadata).toMatchObject({
    'general.architecture': 'bert',
    'bert.attention.causal': false,
    'bert.pooling_type': 1,
    'tokenizer.ggml.model': 'bert',
  });
  expect(tensors.some((t) => t.name.startsWith('pooler') || t.name.includes('LayerNorm'))).toBe(false);
});

test('tokenizes like the Hugging Face WordPiece tokenizer', async () => {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const hf = new Tokenizer(bert.tokenizer, bert.tokenizerConfig);
  for (const s of [
    'Hello world, the little girl named Lily!',
    'playing dogs and cats',
    'unknownish words 42.',
  ]) {
    expect({ s, ids: [...model.tokenize(s)] }).toEqual({
      s,
      ids: hf.encode(s, { add_special_tokens: false }).ids,
    });
  }
});

test('embeds like the reference BertModel', async () => {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const hf = new Tokenizer(bert.tokenizer, bert.tokenizerConfig);
  const text = 'hello world, the little girl was playing';
  const want = referenceBertEmbedding(bert, hf.encode(text).ids);
  const ctx = await model.createEmbeddingContext({ contextSize: 64, threads: 1 });
  const got = (await ctx.getEmbeddingFor(text)).vector;
  await ctx.dispose();
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < want.length; i++) {
    dot += want[i]! * got[i]!;
    na += want[i]! ** 2;
    nb += got[i]! ** 2;
  }
  expect(got.length).toBe(want.length);
  expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.999);
});
