import type { Llama, LlamaModel } from 'node-llama-cpp';
import { loadNodeLlamaCpp } from './llama-module';
import { TokenTextDecoder } from './text-decoder';
import { STORIES, describeWithModel } from '@corral/testing';

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

  it('holds only bytes that can still become a character; invalid bytes stream on', () => {
    // ✓ is spelled with byte-fallback tokens here: E2 9C 93.
    const bytes = model.tokenize('✓', false).filter((t) => model.detokenize([t]) === '\uFFFD');
    const [e2, x9c, x93] = bytes;
    if (e2 === undefined || x9c === undefined || x93 === undefined) throw new Error('no byte tokens');
    const decoder = new TokenTextDecoder(model, model.tokenize('Once', false));
    expect(decoder.push(e2)).toBe(''); // may become ✓: held
    expect(decoder.push(x9c)).toBe('');
    expect(decoder.push(e2)).toBe('\uFFFD'); // E2 9C E2 cannot be ✓: the first two are out at once
    expect(decoder.push(x9c)).toBe('');
    expect(decoder.push(x93)).toBe('✓');
    // A run of stray continuation bytes (what a random-weights model emits) streams one token behind,
    // instead of being held in groups of eight.
    expect([x93, x93, x93, x93].map((t) => decoder.push(t))).toEqual(['', '\uFFFD', '\uFFFD', '\uFFFD']);
    expect(decoder.flush()).toBe('\uFFFD');
  });
});
