import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatParameterSize, validateGguf } from './summary';
import { kv, writeGguf, type GgufKV, type GgufWriteTensor } from './writer';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-summary-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function summarize(
  metadata: GgufKV[],
  tensors: GgufWriteTensor[] = [],
): ReturnType<typeof validateGguf> {
  const path = join(dir, `s${n++}.gguf`);
  await writeGguf(path, { metadata, tensors });
  return validateGguf(path);
}
const tensor = (name: string, type: 'F32' | 'F16', dims: number[]): GgufWriteTensor => ({
  name,
  type,
  dims,
  data: new Float32Array(dims.reduce((a, b) => a * b, 1)),
});

describe('formatParameterSize (Ollama format.HumanNumber)', () => {
  it.each([
    [999, '999'],
    [1000, '1K'],
    [260032, '260K'],
    [292800, '293K'],
    [1_000_000, '1M'],
    [7_241_732, '7.24M'],
    [1_100_048_384, '1.1B'],
    [7_241_732_096, '7.2B'],
    [8_030_261_248, '8.0B'],
    [70_000_000_000, '70B'],
  ])('%d → %s', (count, text) => {
    expect(formatParameterSize(count)).toBe(text);
  });
});

describe('validateGguf', () => {
  it('refuses a missing or unknown architecture', async () => {
    await expect(summarize([kv.u32('llama.block_count', 1)])).rejects.toMatchObject({
      code: 'invalid_model_file',
      message: 'general.architecture is missing',
    });
    await expect(summarize([kv.str('general.architecture', 'gpt-9')])).rejects.toMatchObject({
      code: 'invalid_model_file',
      message: "unknown model architecture 'gpt-9' (llama.cpp cannot load it)",
    });
    await expect(summarize([kv.u32('general.architecture', 1)])).rejects.toThrow(
      'general.architecture is not a string',
    );
  });

  it.each([
    'llama',
    'llama4',
    'qwen2',
    'qwen3',
    'qwen3moe',
    'gemma',
    'gemma2',
    'gemma3',
    'phi3',
    'mistral3',
    't5',
    'mamba',
    'gpt-oss',
  ])('knows architecture %s', async (arch) => {
    expect((await summarize([kv.str('general.architecture', arch)])).architecture).toBe(arch);
  });

  it('marks encoder architectures and pooled models as embedding models', async () => {
    for (const arch of ['bert', 'nomic-bert', 'jina-bert-v2']) {
      expect((await summarize([kv.str('general.architecture', arch)])).isEmbedding).toBe(true);
    }
    const pooled = await summarize([
      kv.str('general.architecture', 'qwen3'),
      kv.u32('qwen3.pooling_type', 3),
    ]);
    expect(pooled.isEmbedding).toBe(true);
    expect((await summarize([kv.str('general.architecture', 'qwen3')])).isEmbedding).toBe(false);
  });

  it('recognises LoRA adapters', async () => {
    const s = await summarize([kv.str('general.architecture', 'llama'), kv.str('general.type', 'adapter')]);
    expect(s.type).toBe('adapter');
  });

  it('names general.file_type like llama.cpp/Ollama, and guesses it from the tensors when absent', async () => {
    const arch = kv.str('general.architecture', 'llama');
    expect((await summarize([arch, kv.u32('general.file_type', 15)])).fileType).toBe('Q4_K_M');
    expect((await summarize([arch, kv.u32('general.file_type', 7)])).fileType).toBe('Q8_0');
    expect((await summarize([arch, kv.u32('general.file_type', 0)])).fileType).toBe('F32');
    const guessed = await summarize(
      [arch],
      [tensor('a', 'F16', [4, 4]), tensor('b', 'F16', [4, 4]), tensor('norm', 'F32', [4])],
    );
    expect(guessed.fileType).toBe('F16');
    expect(guessed.parameterCount).toBe(36);
    expect(guessed.tensorCount).toBe(3);
  });

  it('lays out modelInfo as Ollama /api/show does', async () => {
    const s = await summarize([
      kv.str('general.architecture', 'llama'),
      kv.str('general.name', 'x'),
      kv.str('tokenizer.chat_template', '{{ x }}'),
      kv.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
      kv.arr('tokenizer.ggml.tokens', 'string', ['a', 'b']),
      kv.arr('tokenizer.ggml.merges', 'string', ['a b']),
      { key: 'big', type: 'uint64', value: 2n ** 60n },
      { key: '__proto__', type: 'string', value: 'plain data' },
    ]);
    expect(s).toMatchObject({ name: 'x', chatTemplate: '{{ x }}', vocabSize: 2 });
    expect(s.modelInfo).toEqual({
      'general.architecture': 'llama',
      'llama.attention.layer_norm_rms_epsilon': 1e-5,
      'tokenizer.ggml.tokens': null,
      'tokenizer.ggml.merges': null,
      big: 2 ** 60,
      ['__proto__']: 'plain data',
      'general.parameter_count': 0,
    });
    expect(Object.getPrototypeOf(s.modelInfo)).toBe(Object.prototype);
    expect(() => JSON.stringify(s)).not.toThrow();
  });
});

describe('real models in shared/models', () => {
  const models = join(__dirname, '../../../../shared/models');
  const has = (f: string): boolean => existsSync(join(models, f));
  const real = (f: string): jest.It => {
    if (has(f)) return it;
    console.warn(`skipping ${f} checks: ${join(models, f)} is not present`);
    return it.skip;
  };

  real('stories260K.gguf')('stories260K.gguf: llama, F32, vocab 512', async () => {
    const s = await validateGguf(join(models, 'stories260K.gguf'));
    expect(s).toMatchObject({
      version: 3,
      architecture: 'llama',
      type: 'model',
      fileType: 'F32',
      vocabSize: 512,
      tokenizerModel: 'llama',
      contextLength: 2048,
      embeddingLength: 64,
      blockCount: 5,
      headCount: 8,
      headCountKv: 4,
      // 260,032 weights plus a separate 512×64 output matrix; Ollama counts every tensor.
      parameterCount: 292_800,
      parameterSize: '293K',
      tensorCount: 48,
      fileSize: 1_185_376,
      isEmbedding: false,
    });
    expect(s.chatTemplate).toBeUndefined();
    expect(s.modelInfo['tokenizer.ggml.tokens']).toBeNull();
    expect(s.modelInfo['llama.attention.layer_norm_rms_epsilon']).toBe(1e-5);
  });

  real('llama-2-tiny-random.gguf')('llama-2-tiny-random.gguf: F16, vocab 32000', async () => {
    const s = await validateGguf(join(models, 'llama-2-tiny-random.gguf'));
    expect(s).toMatchObject({
      architecture: 'llama',
      fileType: 'F16',
      vocabSize: 32000,
      name: 'LLaMA v2',
      embeddingLength: 8,
    });
  });

  real('stories260K-chat-template.gguf')('stories260K-chat-template.gguf has a chat template', async () => {
    const s = await validateGguf(join(models, 'stories260K-chat-template.gguf'));
    expect(s.chatTemplate).toContain('{% if add_generation_prompt %}Assistant:{% endif %}');
    expect(s).toMatchObject({ architecture: 'llama', fileType: 'F32', vocabSize: 512 });
    expect(Object.keys(s.modelInfo)).not.toContain('tokenizer.chat_template');
    expect(Object.keys(s.modelInfo)).not.toContain('general.name');
  });
});
