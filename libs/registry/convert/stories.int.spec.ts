import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import { readGguf } from '../gguf';
import { checkpointFromDir, convertCheckpoint } from './convert';

// A real checkpoint (Karpathy's stories260K, exported to HF format): the converted GGUF must
// continue a prompt exactly as the original GGUF does.
const HF = join(__dirname, '../../../../shared/models/stories260K-hf');
const ORIGINAL = join(__dirname, '../../../../shared/models/stories260K.gguf');
jest.setTimeout(120_000);
const present = existsSync(HF) && existsSync(ORIGINAL);
if (!present) console.log(`skipping the stories260K-hf conversion test: ${HF} is not present`);

let dir: string;
let llama: Llama;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-stories-'));
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

(present ? test : test.skip)('stories260K-hf converts to a GGUF that writes the same story', async () => {
  const out = join(dir, 'stories.gguf');
  await convertCheckpoint(await checkpointFromDir(HF), out);
  const conv = (await readGguf(out)).metadata;
  const orig = (await readGguf(ORIGINAL)).metadata;
  for (const key of ['tokenizer.ggml.tokens', 'tokenizer.ggml.token_type', 'llama.rope.dimension_count']) {
    expect(conv[key]).toEqual(orig[key]);
  }
  const { LlamaCompletion } = await import('node-llama-cpp');
  const model = await llama.loadModel({ modelPath: out });
  const context = await model.createContext({ contextSize: 128, threads: 1 });
  const text = await new LlamaCompletion({ contextSequence: context.getSequence() }).generateCompletion(
    'Once upon a time',
    { maxTokens: 12, temperature: 0 },
  );
  await context.dispose();
  await model.dispose();
  expect(text).toMatch(/^, there was a little girl named Lily/);
});
