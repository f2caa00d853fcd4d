import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { buildScriptedModel, buildTinyLlama } from '@corral/registry';
import { DecodeLoop, PREFILL_STEP_TOKENS, type DecodeLoopOptions } from './decode-loop';
import type { DecodeStreamOptions } from './decode-stream';
import { nativeDecodeAddon, nativeDecodeLoadError } from './native-decode';

// Real llama.cpp (CPU, one thread) on models generated here, so this runs on any machine.
jest.setTimeout(120_000);

const SCRIPT = Array.from({ length: 40 }, (_, i) => ` w${i}`);
const GREEDY = { temperature: 0 };

let dir: string;
let llama: Llama;
let scripted: LlamaModel;
let random: LlamaModel;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-decode-loop-'));
  await buildScriptedModel(join(dir, 'scripted.gguf'), { script: SCRIPT, name: 'scripted' });
  await buildTinyLlama(join(dir, 'random.gguf'), { name: 'random' });
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error });
  scripted = await llama.loadModel({ modelPath: join(dir, 'scripted.gguf') });
  random = await llama.loadModel({ modelPath: join(dir, 'random.gguf') });
});

afterAll(async () => {
  await scripted?.dispose();
  await random?.dispose();
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function setup(
  model: LlamaModel,
  sequences: number,
  contextSize = 256,
  loopOptions: DecodeLoopOptions = {},
): Promise<{ context: LlamaContext; loop: DecodeLoop; seqs: LlamaContextSequence[] }> {
  const context = await model.createContext({ sequences, contextSize, threads: 1 });
  const loop = await DecodeLoop.forContext(context, loopOptions);
  if (!loop) throw new Error('the decode loop does not support this node-llama-cpp build');
  if (loopOptions.native && !loop.usesNative) throw new Error(`no native loop: ${loop.nativeUnavailable}`);
  const seqs = Array.from({ length: sequences }, () => context.getSequence({ contextShift: { size: 0 } }));
  return { context, loop, seqs };
}

function options(over: Partial<DecodeStreamOptions> = {}): DecodeStreamOptions {
  return { sampling: GREEDY, maxTokens: 1_000, contextLimit: 256, isFinal: () => false, ...over };
}

/** Evaluates all prompt tokens but the last (as the worker does) and returns the last one. */
async function prefill(seq: LlamaContextSequence, prompt: Token[]): Promise<Token> {
  await seq.clearHistory();
  await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
  return prompt[prompt.length - 1] as Token;
}

async function collect(tokens: AsyncIterable<Token>, limit = Infinity): Promise<Token[]> {
  const out: Token[] = [];
  for await (const t of tokens) {
    out.push(t);
    if (out.length >= limit) break;
  }
  return out;
}

/** node-llama-cpp's own per-sequence generation, the reference the loop must match. */
async function viaSequenceApi(seq: LlamaContextSequence, prompt: Token[], count: number): Promise<Token[]> {
  const last = await prefill(seq, prompt);
  return collect(seq.evaluate([last], { ...GREEDY, yieldEogToken: true }), count);
}

describe('DecodeLoop', () => {
  it('generates what node-llama-cpp generates for one sequence (greedy, real arithmetic)', async () => {
    const { context, loop, seqs } = await setup(random, 1);
    try {
      const seq = seqs[0] as LlamaContextSequence;
      const prompt = random.tokenize('hello there');
      const reference = await viaSequenceApi(seq, prompt, 48);
      const last = await prefill(seq, prompt);
      const mine = await collect(loop.generate(seq, [last], options({ maxTokens: 48 })));
      expect(mine).toEqual(reference);
      expect(seq.contextTokens).toEqual([...prompt, ...mine.slice(0, -1)]);
    } finally {
      await context.dispose();
    }
  });

  it('applies a repeat penalty over a sliding window exactly as node-llama-cpp does', async () => {
    const { context, loop, seqs } = await setup(random, 1);
    try {
      const seq = seqs[0] as LlamaContextSequence;
      const prompt = random.tokenize('the same again and again');
      const penalised = (history: Token[]) => ({
        temperature: 0,
        repeatPenalty: { penalty: 1.8, maxPunishTokens: 8, punishTokens: () => history.slice(-8) },
      });
      const run = async (tokens: (h: Token[]) => AsyncIterable<Token>): Promise<Token[]> => {
        const history = [...prompt];
        const out: Token[] = [];
        for await (const t of tokens(history)) {
          history.push(t);
          out.push(t);
          if (out.length === 40) break;
        }
        return out;
      };
      const reference = await run((h) => {
        const it = prefill(seq, prompt).then((last) =>
          seq.evaluate([last], { ...penalised(h), yieldEogToken: true }),
        );
        return (async function* () {
          yield* await it;
        })();
      });
      // The loop evaluating the prompt itself, and after node-llama-cpp evaluated all but its last token.
      const plain = await run((h) =>
        (async function* () {
          await seq.clearHistory();
          yield* loop.generate(seq, prompt, options({ sampling: penalised(h) }));
        })(),
      );
      const refreshed = await run((h) =>
        (async function* () {
          const last = await prefill(seq, prompt);
          yield* loop.generate(seq, [last], options({ sampling: penalised(h), refreshSampler: true }));
        })(),
      );
      const greedy = await collect(
        loop.generate(seq, [await prefill(seq, prompt)], options({ maxTokens: 40 })),
      );
      expect(greedy).not.toEqual(reference);
      expect(plain).toEqual(reference);
      expect(refreshed).toEqual(reference);
    } finally {
      await context.dispose();
    }
  });

  it('decodes concurrent sequences together: one step per token for all of them', async () => {
    const { context, loop, seqs } = await setup(scripted, 4);
    try {
      const prompts = seqs.map((_, i) => scripted.tokenize(`prompt ${i}`));
      const lasts = await Promise.all(seqs.map((s, i) => prefill(s, prompts[i] as Token[])));
      const outputs = await Promise.all(
        seqs.map((s, i) => collect(loop.generate(s, [lasts[i] as Token], options({ maxTokens: 30 })))),
      );
      const expected = scripted.tokenize(SCRIPT.slice(0, 30).join(''));
      for (const out of outputs) expect(scripted.detokenize(out)).toBe(scripted.detokenize(expected));
      // 4 × 30 tokens; node-llama-cpp's own dispatch decoded 1–3 rows per step (docs/performance.md).
      expect(loop.stats.rows).toBe(4 * 30);
      expect(loop.stats.rows / loop.stats.steps).toBeGreaterThan(3.5);
    } finally {
      await context.dispose();
    }
  });

  it('evaluates a prompt itself, across several steps when it is longer than the batch', async () => {
    const context = await random.createContext({ sequences: 1, contextSize: 256, batchSize: 8, threads: 1 });
    try {
      const loop = await DecodeLoop.forContext(context);
      const seq = context.getSequence({ contextShift: { size: 0 } });
      const prompt = random.tokenize(
        'a longer prompt that takes several batches of eight tokens to evaluate',
      );
      expect(prompt.length).toBeGreaterThan(16);
      const reference = await viaSequenceApi(seq, prompt, 24);
      await seq.clearHistory();
      const mine = await collect(loop!.generate(seq, prompt, options({ maxTokens: 24 })));
      expect(mine).toEqual(reference);
      expect(loop!.stats.steps).toBe(Math.ceil(prompt.length / 8) + 23);
      expect(seq.contextTokens).toEqual([...prompt, ...mine.slice(0, -1)]);
    } finally {
      await context.dispose();
    }
  });

  it('decodes a prompt with the batch threads and the tokens after it with the context threads', async () => {
    const context = await random.createContext({ sequences: 1, contextSize: 256, batchSize: 64, threads: 1 });
    try {
      const loop = await DecodeLoop.forContext(context, { batchThreads: 2 });
      expect(loop!.batchThreads).toBe(2);
      const seq = context.getSequence({ contextShift: { size: 0 } });
      const prompt = random.tokenize(Array.from({ length: 30 }, (_, i) => `word${i}`).join(' '));
      expect(prompt.length).toBeGreaterThan(64 + PREFILL_STEP_TOKENS);
      expect(prompt.length).toBeLessThan(200);
      const chunks = Array.from({ length: Math.ceil(prompt.length / 64) }, (_, i) =>
        Math.min(64, prompt.length - i * 64),
      );
      const reference = await viaSequenceApi(seq, prompt, 16);
      await seq.clearHistory();
      const mine = await collect(loop!.generate(seq, prompt, options({ maxTokens: 16 })));
      // Same greedy output; the prompt steps of 32 tokens or more went wide, no token-by-token step did.
      expect(mine).toEqual(reference);
      expect(loop!.stats.batchThreadSteps).toBe(chunks.filter((n) => n >= PREFILL_STEP_TOKENS).length);
      expect(loop!.stats.batchThreadSteps).toBeGreaterThanOrEqual(2);
      expect(context.currentThreads).toBe(1);
    } finally {
      await context.dispose();
    }
  });

  it('a prompt arriving mid-generation shares its steps: the running sequence still gets a token each step', async () => {
    const context = await scripted.createContext({
      sequences: 2,
      contextSize: 256,
      batchSize: 8,
      threads: 1,
    });
    try {
      const loop = (await DecodeLoop.forContext(context))!;
      const [a, b] = [0, 1].map(() => context.getSequence({ contextShift: { size: 0 } })) as [
        LlamaContextSequence,
        LlamaContextSequence,
      ];
      const longPrompt = scripted.tokenize(Array.from({ length: 20 }, (_, i) => ` p${i}`).join(''));
      let joined: Promise<Token[]> | undefined;
      const first: Token[] = [];
      for await (const t of loop.generate(a, scripted.tokenize('go'), options({ maxTokens: 39 }))) {
        first.push(t);
        if (first.length === 5) joined = collect(loop.generate(b, longPrompt, options({ maxTokens: 20 })));
      }
      const second = await joined!;
      expect(scripted.detokenize(first)).toBe(SCRIPT.slice(0, 39).join(''));
      expect(scripted.detokenize(second)).toBe(SCRIPT.slice(0, 20).join(''));
      // 39 steps for the first sequence; the second one's prompt and tokens all fit inside them.
      expect(loop.stats.steps).toBeLessThanOrEqual(40);
    } finally {
      await context.dispose();
    }
  });

  it('ends without an error and without decoding when its signal aborts before the prompt is in', async () => {
    const { context, loop, seqs } = await setup(random, 1);
    try {
      const seq = seqs[0] as LlamaContextSequence;
      await seq.clearHistory();
      const controller = new AbortController();
      controller.abort();
      const out = await collect(
        loop.generate(seq, random.tokenize('never'), options({ signal: controller.signal })),
      );
      expect(out).toEqual([]);
      expect(seq.nextTokenIndex).toBe(0);
      expect(loop.stats.steps).toBe(0);
    } finally {
      await context.dispose();
    }
  });

  it('ends on a final token without decoding it, at maxTokens, and at the context limit', async () => {
    const { context, loop, seqs } = await setup(scripted, 1, 64);
    try {
      const seq = seqs[0] as LlamaContextSequence;
      const prompt = scripted.tokenize('go');
      const stopAt = scripted.tokenize(SCRIPT[5] as string)[0] as Token;

      let last = await prefill(seq, prompt);
      const untilFinal = await collect(loop.generate(seq, [last], options({ isFinal: (t) => t === stopAt })));
      expect(untilFinal).toHaveLength(6);
      expect(untilFinal[5]).toBe(stopAt);
      expect(seq.contextTokens).toEqual([...prompt, ...untilFinal.slice(0, 5)]);

      last = await prefill(seq, prompt);
      expect(await collect(loop.generate(seq, [last], options({ maxTokens: 7 })))).toHaveLength(7);

      last = await prefill(seq, prompt);
      const full = await collect(loop.generate(seq, [last], options({ contextLimit: 20 })));
      expect(seq.nextTokenIndex).toBe(20);
      expect(prompt.length + full.length).toBe(21);
    } finally {
      await context.dispose();
    }
  });

  it('a consumer that breaks off leaves the sequence consistent for the next job', async () => {
    const { context, loop, seqs } = await setup(random, 2);
    try {
      const [seq, other] = seqs as [LlamaContextSequence, LlamaContextSequence];
      const prompt = random.tokenize('once more');
      // Another stream keeps the loop busy while this one breaks off mid-stream.
      const busy = collect(loop.generate(other, [await prefill(other, prompt)], options({ maxTokens: 60 })));
      const first = await collect(loop.generate(seq, [await prefill(seq, prompt)], options()), 5);
      expect(first).toHaveLength(5);
      // The token list matches the KV cache: what was decoded, the prompt and up to one token past the break.
      const tokens = seq.contextTokens;
      expect(tokens.slice(0, prompt.length + 4)).toEqual([...prompt, ...first.slice(0, 4)]);
      expect(tokens.length).toBeLessThanOrEqual(prompt.length + 5);
      expect(seq.nextTokenIndex).toBe(tokens.length);
      // Keeping the prompt and generating again gives the same continuation as the first time.
      await seq.eraseContextTokenRanges([{ start: prompt.length - 1, end: seq.nextTokenIndex }]);
      const again = await collect(
        loop.generate(seq, [prompt[prompt.length - 1] as Token], options({ maxTokens: 5 })),
      );
      expect(again).toEqual(first);
      expect(await busy).toHaveLength(60);
    } finally {
      await context.dispose();
    }
  });

  it('fails the stream, without hanging, when the context is disposed mid-generation', async () => {
    const { context, loop, seqs } = await setup(random, 1);
    const seq = seqs[0] as LlamaContextSequence;
    const last = await prefill(seq, random.tokenize('bye'));
    const seen: Token[] = [];
    const run = (async () => {
      for await (const t of loop.generate(seq, [last], options({ maxTokens: 10_000, contextLimit: 256 }))) {
        seen.push(t);
        if (seen.length === 3) void context.dispose();
      }
    })();
    await expect(run).rejects.toThrow();
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.length).toBeLessThan(250);
  });

  it('is not used where node-llama-cpp does not expose what it needs', async () => {
    expect(await DecodeLoop.forContext({} as LlamaContext)).toBeNull();
    expect(await DecodeLoop.forContext({ _ctx: { initBatch: 1 } } as unknown as LlamaContext)).toBeNull();
  });
});

// The native loop (native/decode-loop.cc) is built by `npm run build` wherever a C++ compiler is; the
// build says so when it cannot, and only CORRAL_NATIVE_BUILD=off leaves these out on purpose.
const describeNative = process.env.CORRAL_NATIVE_BUILD === 'off' ? describe.skip : describe;

describeNative('DecodeLoop on the native loop (every stream past its prompt)', () => {
  const native = { native: true } satisfies DecodeLoopOptions;

  it('is built and binds to this node-llama-cpp', async () => {
    expect(nativeDecodeLoadError()).toBeUndefined();
    expect(nativeDecodeAddon()).not.toBeNull();
    const { context, loop } = await setup(random, 1, 256, native);
    try {
      expect(loop.usesNative).toBe(true);
      expect(loop.nativeUnavailable).toBeNull();
    } finally {
      await context.dispose();
    }
  });

  it('refuses objects that are not a node-llama-cpp context laid out as it expects', async () => {
    const context = await random.createContext({ sequences: 1, contextSize: 256, threads: 1 });
    try {
      const internal = context as unknown as {
        _ctx: object;
        _model: { _model: object };
        _llama: { _bindings: { AddonSampler: new (m: object) => { dispose(): void } } };
      };
      const sampler = new internal._llama._bindings.AddonSampler(internal._model._model);
      const addon = nativeDecodeAddon()!;
      // A sampler where the context belongs, and a context whose sizes do not match.
      expect(addon.bind(sampler, internal._model._model, sampler, 256, 1)).toMatch(/layout/);
      expect(addon.bind(internal._ctx, internal._model._model, sampler, 256, 3)).toMatch(/layout/);
      expect(typeof addon.bind(internal._ctx, internal._model._model, sampler, 256, 1)).toBe('object');
      sampler.dispose();
    } finally {
      await context.dispose();
    }
  });

  it('generates what node-llama-cpp generates, decoding the tokens natively', async () => {
    const { context, loop, seqs } = await setup(random, 1, 256, native);
    try {
      const seq = seqs[0] as LlamaContextSequence;
      const prompt = random.tokenize('hello there');
      const reference = await viaSequenceApi(seq, prompt, 48);
      const last = await prefill(seq, prompt);
      const mine = await collect(loop.generate(seq, [last], options({ maxTokens: 48, stopTokens: [] })));
      expect(mine).toEqual(reference);
      expect(seq.contextTokens).toEqual([...prompt, ...mine.slice(0, -1)]);
      // Every decode ran natively: the prompt's last token and all but the final sampled token.
      expect(loop.stats.nativeTokens).toBe(48);
      expect(loop.stats.nativeRuns).toBeGreaterThanOrEqual(1);
    } finally {
      await context.dispose();
    }
  });

  it('keeps to JavaScript for streams it cannot run: no stop-token list, or a filtered penalty window', async () => {
    const { context, loop, seqs } = await setup(random, 1, 256, native);
    try {
      const seq = seqs[0] as LlamaContextSequence;
      const prompt = random.tokenize('hello there');
      await collect(loop.generate(seq, [await prefill(seq, prompt)], options({ maxTokens: 8 })));
      await collect(
        loop.generate(
          seq,
          [await prefill(seq, prompt)],
          options({ maxTokens: 8, stopTokens: [], refreshSampler: true }),
        ),
      );
      expect(loop.stats.nativeTokens).toBe(0);
      expect(loop.stats.steps).toBe(16);
    } finally {
      await context.dispose();
    }
  });

  it('applies the repeat penalty window and the prompt exactly as node-llama-cpp does', async () => {
    const { context, loop, seqs } = await setup(random, 1, 256, native);
    try {
      const seq = seqs[0] as LlamaContextSequence;
      const prompt = random.tokenize('the same again and again');
      const sampling = {
        temperature: 0,
        repeatPenalty: { penalty: 1.8, maxPunishTokens: 8, punishTokens: () => [] as Token[] },
      };
      const history = [...prompt];
      sampling.repeatPenalty.punishTokens = () => history.slice(-8);
      const last = await prefill(seq, prompt);
      const reference: Token[] = [];
      for await (const t of seq.evaluate([last], { ...sampling, yieldEogToken: true })) {
        history.push(t);
        reference.push(t);
        if (reference.length === 40) break;
      }
      history.splice(prompt.length);
      await seq.clearHistory();
      const mine: Token[] = [];
      for await (const t of loop.generate(
        seq,
        prompt,
        options({ sampling, stopTokens: [], maxTokens: 40 }),
      )) {
        history.push(t);
        mine.push(t);
      }
      expect(mine).toEqual(reference);
      expect(loop.stats.nativeTokens).toBe(39);
    } finally {
      await context.dispose();
    }
  });

  it('ends on a stop token or end of generation without decoding it, at maxTokens, and at the context limit', async () => {
    const { context, loop, seqs } = await setup(scripted, 1, 64, native);
    try {
      const seq = seqs[0] as LlamaContextSequence;
      const prompt = scripted.tokenize('go');
      const stopAt = scripted.tokenize(SCRIPT[5] as string)[0] as Token;

      let last = await prefill(seq, prompt);
      const untilStop = await collect(
        loop.generate(seq, [last], options({ isFinal: (t) => t === stopAt, stopTokens: [stopAt] })),
      );
      expect(untilStop).toHaveLength(6);
      expect(untilStop[5]).toBe(stopAt);
      expect(seq.contextTokens).toEqual([...prompt, ...untilStop.slice(0, 5)]);

      last = await prefill(seq, prompt);
      expect(
        await collect(loop.generate(seq, [last], options({ maxTokens: 7, stopTokens: [] }))),
      ).toHaveLength(7);
      expect(seq.contextTokens).toHaveLength(prompt.length + 6);

      last = await prefill(seq, prompt);
      const full = await collect(loop.generate(seq, [last], options({ contextLimit: 20, stopTokens: [] })));
      expect(seq.nextTokenIndex).toBe(20);
      expect(prompt.length + full.length).toBe(21);
      expect(loop.stats.nativeTokens).toBe(6 + 7 + (20 - prompt.length + 1));
    } finally {
      await context.dispose();
    }
  });

  it('stops for a second sequence, which then shares the steps, and both generate what they should', async () => {
    const { context, loop, seqs } = await setup(random, 2, 1024, { ...native, nativeRunBudgetMs: 60_000 });
    try {
      const [a, b] = seqs as [LlamaContextSequence, LlamaContextSequence];
      const [promptA, promptB] = [random.tokenize('first story'), random.tokenize('the other one')];
      const long = options({ maxTokens: 400, contextLimit: 1024, stopTokens: [] });
      const short = options({ maxTokens: 30, contextLimit: 1024, stopTokens: [] });
      const referenceA = await viaSequenceApi(a, promptA, 400);
      const referenceB = await viaSequenceApi(b, promptB, 30);
      await a.clearHistory();
      await b.clearHistory();
      // `a` is on a native run (which would last the whole stream) when `b` arrives.
      const streamA = loop.generate(a, promptA, long);
      const firstA = await streamA.next();
      const [restA, outB] = await Promise.all([collect(streamA), collect(loop.generate(b, promptB, short))]);
      expect([firstA.value as Token, ...restA]).toEqual(referenceA);
      expect(outB).toEqual(referenceB);
      // The run gave way, both sequences were decoded in shared steps, and `a` went native again after.
      expect(loop.stats.nativeRuns).toBeGreaterThanOrEqual(2);
      expect(loop.stats.rows - loop.stats.nativeTokens).toBeGreaterThan(
        loop.stats.steps - loop.stats.nativeSteps,
      );
    } finally {
      await context.dispose();
    }
  });

  it('runs several sequences natively in one batch per step, each generating what it should', async () => {
    const { context, loop, seqs } = await setup(scripted, 4, 256, { ...native, nativeRunBudgetMs: 60_000 });
    try {
      const prompts = seqs.map((_, i) => scripted.tokenize(`prompt ${i}`));
      const lasts = await Promise.all(seqs.map((s, i) => prefill(s, prompts[i] as Token[])));
      const outputs = await Promise.all(
        seqs.map((s, i) =>
          collect(loop.generate(s, [lasts[i] as Token], options({ maxTokens: 30, stopTokens: [] }))),
        ),
      );
      const expected = scripted.detokenize(scripted.tokenize(SCRIPT.slice(0, 30).join('')));
      for (const out of outputs) expect(scripted.detokenize(out)).toBe(expected);
      // All 4 × 30 decodes native (each prompt's last token included), in shared steps. How many
      // rows a step carries depends on when each stream joins, which a loaded machine shifts (2.2
      // seen under load, 4 when idle): the rows per step are the concurrency bench's to measure.
      expect(loop.stats.nativeTokens).toBe(4 * 30);
      expect(loop.stats.rows).toBeGreaterThan(loop.stats.steps);
    } finally {
      await context.dispose();
    }
  });

  it('lets a stream that ends inside a run go at once, while the others run on', async () => {
    const { context, loop, seqs } = await setup(random, 2, 1024, { ...native, nativeRunBudgetMs: 60_000 });
    try {
      const [a, b] = seqs as [LlamaContextSequence, LlamaContextSequence];
      const [promptA, promptB] = [random.tokenize('short one'), random.tokenize('long one')];
      const referenceA = await viaSequenceApi(a, promptA, 5);
      const referenceB = await viaSequenceApi(b, promptB, 500);
      const [lastA, lastB] = [await prefill(a, promptA), await prefill(b, promptB)];
      const seenB: Token[] = [];
      const longer = (async () => {
        for await (const t of loop.generate(
          b,
          [lastB],
          options({ maxTokens: 500, contextLimit: 1024, stopTokens: [] }),
        ))
          seenB.push(t);
      })();
      const shorter = await collect(
        loop.generate(a, [lastA], options({ maxTokens: 5, contextLimit: 1024, stopTokens: [] })),
      );
      const bWhenADone = seenB.length;
      await longer;
      expect(shorter).toEqual(referenceA);
      expect(seenB).toEqual(referenceB);
      // `a`'s job was not held until the 60 s run ended with `b`.
      expect(bWhenADone).toBeLessThan(400);
      expect(a.contextTokens).toEqual([...promptA, ...shorter.slice(0, -1)]);
    } finally {
      await context.dispose();
    }
  });

  it('gives the context lock to an erase on another sequence after one token, not after the run', async () => {
    const { context, loop, seqs } = await setup(random, 2, 1024, { ...native, nativeRunBudgetMs: 60_000 });
    try {
      const [a, b] = seqs as [LlamaContextSequence, LlamaContextSequence];
      const prompt = random.tokenize('a long story');
      await b.evaluateWithoutGeneratingNewTokens(random.tokenize('something to erase'));
      let erased = -1;
      const out: Token[] = [];
      for await (const t of loop.generate(
        a,
        [await prefill(a, prompt)],
        options({ maxTokens: 600, contextLimit: 1024, stopTokens: [] }),
      )) {
        out.push(t);
        if (out.length === 10) {
          loop.yieldContext();
          void b.clearHistory().then(() => (erased = out.length));
        }
      }
      expect(out).toHaveLength(600);
      expect(b.nextTokenIndex).toBe(0);
      // Without yieldContext the erase would wait for the whole 60 s run, i.e. the end of the stream.
      expect(erased).toBeGreaterThan(0);
      expect(erased).toBeLessThan(500);
    } finally {
      await context.dispose();
    }
  });

  it('a consumer that breaks off, or a signal that aborts, stops the run and leaves the sequence consistent', async () => {
    const { context, loop, seqs } = await setup(random, 1, 1024, { ...native, nativeRunBudgetMs: 60_000 });
    try {
      const seq = seqs[0] as LlamaContextSequence;
      const prompt = random.tokenize('once more');
      const first = await collect(
        loop.generate(seq, [await prefill(seq, prompt)], options({ stopTokens: [], contextLimit: 1024 })),
        5,
      );
      expect(first).toHaveLength(5);
      // The token list matches the KV cache: the prompt, what was taken, and what the run decoded before it noticed.
      const tokens = seq.contextTokens;
      expect(tokens.slice(0, prompt.length + 4)).toEqual([...prompt, ...first.slice(0, 4)]);
      expect(tokens.length).toBeLessThan(prompt.length + 200);
      expect(seq.nextTokenIndex).toBe(tokens.length);
      await seq.eraseContextTokenRanges([{ start: prompt.length - 1, end: seq.nextTokenIndex }]);
      const again = await collect(
        loop.generate(seq, [prompt[prompt.length - 1] as Token], options({ maxTokens: 5, stopTokens: [] })),
      );
      expect(again).toEqual(first);

      const controller = new AbortController();
      const seen: Token[] = [];
      for await (const t of loop.generate(
        seq,
        [await prefill(seq, prompt)],
        options({ stopTokens: [], contextLimit: 1024, signal: controller.signal }),
      )) {
        seen.push(t);
        if (seen.length === 3) controller.abort();
      }
      expect(seen.length).toBeGreaterThanOrEqual(3);
      expect(seen.length).toBeLessThan(200);
      expect(seq.nextTokenIndex).toBe(seq.contextTokens.length);
    } finally {
      await context.dispose();
    }
  });

  it('fails the stream, without hanging or crashing, when the context is disposed mid-generation', async () => {
    const { context, loop, seqs } = await setup(random, 1, 256, native);
    const seq = seqs[0] as LlamaContextSequence;
    const last = await prefill(seq, random.tokenize('bye'));
    const seen: Token[] = [];
    const run = (async () => {
      for await (const t of loop.generate(
        seq,
        [last],
        options({ maxTokens: 10_000, contextLimit: 256, stopTokens: [] }),
      )) {
        seen.push(t);
        if (seen.length === 3) void context.dispose();
      }
    })();
    await expect(run).rejects.toThrow();
    expect(seen.length).toBeGreaterThanOrEqual(3);
  });
});
