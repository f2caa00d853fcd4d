import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { buildTinyLlama } from '@corral/registry';
import { SequencePool, chooseSequence } from './sequence-pool';

// Real llama.cpp (CPU, one thread) on a model generated here, so this runs on any machine.
jest.setTimeout(120_000);

describe('chooseSequence', () => {
  it('takes the sequence that shares the longest real prefix with the prompt', () => {
    const candidates = [
      { held: 0, shared: 0 },
      { held: 30, shared: 12 },
      { held: 22, shared: 20 },
    ];
    expect(chooseSequence(candidates, 24)).toBe(2);
  });

  it('reuses a repeated prompt whatever was generated after it', () => {
    // 9 prompt tokens, then 300 generated: the same prompt again still finds it.
    expect(
      chooseSequence(
        [
          { held: 0, shared: 0 },
          { held: 309, shared: 9 },
        ],
        9,
      ),
    ).toBe(1);
  });

  it('takes an empty sequence rather than overwrite a cache that shares only the BOS', () => {
    expect(
      chooseSequence(
        [
          { held: 7, shared: 1 },
          { held: 0, shared: 0 },
        ],
        20,
      ),
    ).toBe(1);
  });

  it('takes an empty sequence rather than overwrite a long cache for a small part of the prompt', () => {
    // Another story that shares "BOS Story" with one held in sequence 0.
    expect(
      chooseSequence(
        [
          { held: 140, shared: 3 },
          { held: 0, shared: 0 },
        ],
        9,
      ),
    ).toBe(1);
  });

  it('with no empty sequence, reuses what it can, else overwrites the least recently released', () => {
    const someReuse = [
      { held: 40, shared: 1 },
      { held: 1_000, shared: 50 },
    ];
    expect(chooseSequence(someReuse, 400)).toBe(1);
    const none = [
      { held: 40, shared: 1 },
      { held: 9, shared: 1 },
    ];
    expect(chooseSequence(none, 30)).toBe(0);
  });

  it('refuses an empty candidate list', () => {
    expect(() => chooseSequence([], 5)).toThrow(/empty/);
  });
});

describe('SequencePool on a real context', () => {
  let dir: string;
  let llama: Llama;
  let model: LlamaModel;
  let context: LlamaContext;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-sequence-pool-'));
    await buildTinyLlama(join(dir, 'random.gguf'), { name: 'random' });
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error });
    model = await llama.loadModel({ modelPath: join(dir, 'random.gguf') });
    context = await model.createContext({ sequences: 4, contextSize: 512, threads: 1 });
  });

  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const REPLY = ' and then they all lived happily ever after, far away from the dark forest.';

  /** One request as the worker runs it: acquire, evaluate the prompt (plus a reply), release. */
  async function serve(pool: SequencePool, prompt: Token[]): Promise<LlamaContextSequence> {
    const seq = await pool.acquire(prompt);
    const shared = seq.nextTokenIndex === 0 ? 0 : seq.compareContextTokens(prompt).firstDifferentIndex;
    const keep = Math.min(shared, prompt.length - 1);
    if (keep === 0) await seq.clearHistory();
    else if (keep < seq.nextTokenIndex)
      await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    await seq.evaluateWithoutGeneratingNewTokens([...prompt.slice(keep), ...model.tokenize(REPLY)]);
    pool.release(seq);
    return seq;
  }

  it('keeps two alternating prompts in their own sequences, so each finds its prefix cached', async () => {
    const sequences = Array.from({ length: 4 }, () => context.getSequence({ contextShift: { size: 0 } }));
    const pool = new SequencePool(sequences);
    // Both start with the same BOS, and only that.
    const bos = model.tokens.bos as Token;
    const generate = [bos, ...model.tokenize('Once upon a time')];
    const chat = [bos, ...model.tokenize('User: Once upon a time\nAssistant:')];
    expect(bos).not.toBeNull();
    expect(generate[1]).not.toBe(chat[1]);

    const first = { generate: await serve(pool, generate), chat: await serve(pool, chat) };
    expect(first.chat).not.toBe(first.generate);
    for (let round = 0; round < 3; round++) {
      expect(await serve(pool, generate)).toBe(first.generate);
      expect(await serve(pool, chat)).toBe(first.chat);
    }
    // A follow-up that extends the chat prompt lands in the chat's sequence too.
    expect(await serve(pool, [...chat, ...model.tokenize(' The end.')])).toBe(first.chat);
    await Promise.all(sequences.map((s) => s.dispose()));
  });
});
