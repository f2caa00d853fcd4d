import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { validateGguf } from './summary';
import { buildScriptedModel, buildTinyLlama } from './tiny';

// Real llama.cpp (CPU, one thread): proves the builders write models llama.cpp accepts and that
// the scripted model really follows its script.
jest.setTimeout(120_000);

let dir: string;
let llama: Llama;
const models: LlamaModel[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-tiny-'));
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error });
});

afterAll(async () => {
  for (const m of models) await m.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function load(path: string): Promise<LlamaModel> {
  const model = await llama.loadModel({ modelPath: path });
  models.push(model);
  return model;
}

async function complete(model: LlamaModel, prompt: string, temperature = 0, seed = 1): Promise<string> {
  const { LlamaCompletion } = await import('node-llama-cpp');
  const context = await model.createContext({ contextSize: 256, threads: 1 });
  try {
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    return await completion.generateCompletion(prompt, { maxTokens: 24, temperature, seed });
  } finally {
    await context.dispose();
  }
}

const TEMPLATE =
  "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

describe('buildScriptedModel', () => {
  const script = ['Hello', '▁from', '▁Corral', '!'];
  let path: string;
  let model: LlamaModel;

  beforeAll(async () => {
    path = join(dir, 'scripted.gguf');
    await buildScriptedModel(path, { script, name: 'scripted', chatTemplate: TEMPLATE });
    model = await load(path);
  });

  // Script pieces inside the prompt do not matter, only its last token does (see the limitation
  // test below).
  it.each(['Once upon a time', 'What is 2+2?', 'Hello from Corral! Again?', 'zzz qqq ###', '\n', 'é中😀'])(
    'emits exactly the script then stops, greedy, for prompt %j',
    async (prompt) => {
      expect(await complete(model, prompt)).toBe('Hello from Corral!');
    },
  );

  it('follows the script when sampling at temperature 0.8', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      expect(await complete(model, 'Tell me a story', 0.8, seed)).toBe('Hello from Corral!');
    }
  });

  it('continues the script when the prompt ends with a script piece (documented limitation)', async () => {
    expect(await complete(model, 'Say it from')).toBe(' Corral!');
    expect(await complete(model, 'Wow!')).toBe('');
  });

  it('answers a chat with the script through its chat template, even when the message ends with a script piece', async () => {
    const { LlamaChatSession } = await import('node-llama-cpp');
    const context = await model.createContext({ contextSize: 256, threads: 1 });
    try {
      const session = new LlamaChatSession({ contextSequence: context.getSequence() });
      expect(await session.prompt('Hi!', { maxTokens: 24 })).toBe('Hello from Corral!');
      expect(await session.prompt('Again, from Corral!', { maxTokens: 24, temperature: 0.8 })).toBe(
        'Hello from Corral!',
      );
    } finally {
      await context.dispose();
    }
  });

  it('tokenizes the script text back to one token per piece', () => {
    const tokens = model.tokenize('Hello from Corral!');
    expect(tokens).toHaveLength(4);
    expect(model.detokenize(tokens)).toBe('Hello from Corral!');
  });

  it('summarizes as a llama model with its name and template', async () => {
    const s = await validateGguf(path);
    expect(s).toMatchObject({
      architecture: 'llama',
      name: 'scripted',
      fileType: 'F32',
      tokenizerModel: 'llama',
    });
    expect(s.chatTemplate).toBe(TEMPLATE);
  });

  it('accepts spaces for ▁ and refuses repeated pieces', async () => {
    const p2 = join(dir, 'scripted2.gguf');
    await buildScriptedModel(p2, { script: ['Yes', ' it', ' works', '.'] });
    expect(await complete(await load(p2), 'Does it?')).toBe('Yes it works.');
    await expect(buildScriptedModel(join(dir, 'x.gguf'), { script: ['a', 'b', 'a'] })).rejects.toThrow(
      "script piece 'a' appears twice",
    );
  });
});

describe('buildTinyLlama', () => {
  it('loads, generates text and embeds, in F32 and F16', async () => {
    for (const weightType of ['F32', 'F16'] as const) {
      const path = join(dir, `tiny-${weightType}.gguf`);
      await buildTinyLlama(path, { weightType, name: 'tiny' });
      const summary = await validateGguf(path);
      expect(summary).toMatchObject({
        architecture: 'llama',
        fileType: weightType,
        embeddingLength: 64,
        blockCount: 2,
        headCount: 4,
        headCountKv: 2,
        contextLength: 2048,
        tokenizerModel: 'llama',
      });
      expect(summary.vocabSize).toBeGreaterThan(300);

      const model = await load(path);
      expect(model.trainContextSize).toBe(2048);
      const text = await complete(model, 'The little girl');
      expect(text.length).toBeGreaterThan(0);

      const embedding = await model.createEmbeddingContext({ contextSize: 128, threads: 1 });
      try {
        const a = await embedding.getEmbeddingFor('hello world');
        const b = await embedding.getEmbeddingFor('the answer to the question');
        expect(a.vector).toHaveLength(64);
        expect(a.vector.every((x) => Number.isFinite(x))).toBe(true);
        expect(a.vector).not.toEqual(b.vector);
      } finally {
        await embedding.dispose();
      }
    }
  });

  it('is deterministic for a seed', async () => {
    const { readFile } = await import('node:fs/promises');
    await buildTinyLlama(join(dir, 'a.gguf'), { seed: 5 });
    await buildTinyLlama(join(dir, 'b.gguf'), { seed: 5 });
    await buildTinyLlama(join(dir, 'c.gguf'), { seed: 6 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => readFile(join(dir, `${n}.gguf`))));
    expect(a!.equals(b!)).toBe(true);
    expect(a!.equals(c!)).toBe(false);
  });
});
