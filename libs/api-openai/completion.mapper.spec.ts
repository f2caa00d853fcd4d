import { CorralError } from '@corral/common';
import { completionChunks, planCompletion, textCompletion } from './completion.mapper';
import { CompletionRequestSchema, type CompletionRequest } from './dto/completion.dto';
import { all, done, run } from './test-events';
import { parseBody } from './validation';

function plan(extra: Record<string, unknown>) {
  return planCompletion(
    parseBody(CompletionRequestSchema, { model: 'tiny', prompt: 'Once upon', ...extra }) as CompletionRequest,
  );
}

function failure(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error('expected a CorralError');
}

const meta = { id: 'cmpl-1', created: 1700000000, model: 'tiny:latest' };

describe('planCompletion', () => {
  it('takes a prompt string or an array of one string, with the same sampling mapping as chat', () => {
    expect(plan({ prompt: ['a time'], max_tokens: 5, stop: ['\n'], seed: 1 })).toMatchObject({
      prompt: 'a time',
      options: { num_predict: 5, stop: ['\n'], seed: 1 },
      stream: false,
    });
  });

  it('keeps suffix for models that can fill in the middle', () => {
    expect(plan({ suffix: ' the end' }).suffix).toBe(' the end');
    expect(plan({ suffix: '' })).not.toHaveProperty('suffix');
  });

  it.each([
    [{ prompt: ['a', 'b'] }, 'prompt'],
    [{ prompt: [1, 2, 3] }, 'prompt'],
    [{ n: 3 }, 'n'],
    [{ best_of: 2 }, 'best_of'],
    [{ logprobs: 2 }, 'logprobs'],
    [{ echo: true }, 'echo'],
  ])('refuses %j naming the parameter', (extra, param) => {
    expect(failure(() => plan(extra))).toMatchObject({ status: 400, param });
  });
});

describe('text_completion responses', () => {
  it('reports text, finish_reason and usage', () => {
    const res = textCompletion(
      meta,
      ' a time',
      done({ doneReason: 'length', promptTokens: 4, completionTokens: 2 }),
    );
    expect(res).toEqual({
      ...meta,
      object: 'text_completion',
      system_fingerprint: 'fp_corral',
      choices: [{ index: 0, text: ' a time', logprobs: null, finish_reason: 'length' }],
      usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
    });
  });

  it('streams pieces, then a finish chunk, then usage when asked', async () => {
    const chunks = await all(completionChunks(run([' a', ' time']), { ...meta, includeUsage: true }));
    expect(chunks.map((c) => [c.choices[0]?.text, c.choices[0]?.finish_reason ?? null])).toEqual([
      [' a', null],
      [' time', null],
      ['', 'stop'],
      [undefined, null],
    ]);
    expect(chunks.slice(0, 3).every((c) => c.usage === null)).toBe(true);
    expect(chunks[3]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
    });
    const plain = await all(completionChunks(run(['x']), { ...meta, includeUsage: false }));
    expect(plain).toHaveLength(2);
    expect(plain[0]).not.toHaveProperty('usage');
  });
});
