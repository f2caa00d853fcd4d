import type { Token } from 'node-llama-cpp';
import { SamplingSchema } from '@corral/worker-protocol';
import { maxNewTokens, toEvaluateOptions } from './sampling';

const ctx = { history: () => [5, 13, 7, 13, 9] as Token[], contextSize: 100, newlineToken: 13 as Token };

describe('toEvaluateOptions', () => {
  it("applies Ollama's defaults for absent fields", () => {
    const o = toEvaluateOptions(SamplingSchema.parse({}), ctx);
    expect(o).toMatchObject({ temperature: 0.8, topK: 40, topP: 0.9, minP: 0 });
    expect(o.repeatPenalty).toMatchObject({ penalty: 1.1, maxPunishTokens: 64 });
    expect(o.seed).toBeUndefined();
  });

  it('maps every sampling field', () => {
    const o = toEvaluateOptions(
      SamplingSchema.parse({
        temperature: 0,
        topK: 5,
        topP: 0.5,
        minP: 0.1,
        seed: 9,
        repeatPenalty: 1.3,
        repeatLastN: 2,
        presencePenalty: 0.2,
        frequencyPenalty: 0.4,
        penalizeNewline: false,
      }),
      ctx,
    );
    expect(o).toMatchObject({ temperature: 0, topK: 5, topP: 0.5, minP: 0.1, seed: 9 });
    expect(o.repeatPenalty).toMatchObject({
      penalty: 1.3,
      presencePenalty: 0.2,
      frequencyPenalty: 0.4,
      maxPunishTokens: 2,
    });
    const punish = o.repeatPenalty?.punishTokens;
    expect(typeof punish === 'function' ? punish() : punish).toEqual([9]); // last 2 = [13, 9], newline exempt
  });

  it('turns the penalty off for repeatLastN 0 or neutral values, and uses the whole context for -1', () => {
    expect(toEvaluateOptions(SamplingSchema.parse({ repeatLastN: 0 }), ctx).repeatPenalty).toBeUndefined();
    expect(toEvaluateOptions(SamplingSchema.parse({ repeatPenalty: 1 }), ctx).repeatPenalty).toBeUndefined();
    expect(
      toEvaluateOptions(SamplingSchema.parse({ repeatLastN: -1 }), ctx).repeatPenalty?.maxPunishTokens,
    ).toBe(100);
  });

  it('treats negative numPredict as unbounded', () => {
    expect(maxNewTokens(SamplingSchema.parse({}))).toBe(Infinity);
    expect(maxNewTokens(SamplingSchema.parse({ numPredict: -2 }))).toBe(Infinity);
    expect(maxNewTokens(SamplingSchema.parse({ numPredict: 7 }))).toBe(7);
  });
});
