import type { Llama, LlamaModel } from 'node-llama-cpp';
import { loadNodeLlamaCpp } from './llama-module';
import { TokenTextDecoder } from './text-decoder';
import { STORIES, describeWithModel } from './testing';

jest.setTimeout(60_000);

describeWithModel(STORIES, 'TokenTextDecoder', () => {
  let llama: Llama;
  let model: LlamaModel;
  beforeAll(async () => {
    const { getLlama } = await loadNodeLlamaCpp();
    llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, maxThreads: 1 });
    model = await llama.loadModel({ modelPath: STORIES });
  });
  afterAll(() => llama?.dispose());

  it('never emits half a multi-byte character when decoding token by token', () => {
    const text = 'Lily saw a café ✓ and 世界 🙂 there.';
    const prompt = model.tokenize('Once', false);
    const tokens = model.tokenize(text, false);
    // the 512-token vocabulary spells these characters with byte-fallback tokens, one byte each
    expect(tokens.filter((t) => model.detokenize([t]).includes('\uFFFD')).length).toBeGreaterThan(6);
    const decoder = new TokenTextDecoder(model, prompt);
    const pieces = tokens.map((t) => decoder.push(t));
    pieces.push(decoder.flush());
    for (const p of pieces) expect(p).not.toContain('\uFFFD');
    expect(pieces.join('').trimStart()).toBe(text);
    expect(pieces.filter((p) => p === '').length).toBeGreaterThan(3);
  });
});
