/** The worker holds jobs to the gateway's bounds itself, whoever produced the job. */
import type { Token } from 'node-llama-cpp';
import { WorkerJobError } from './errors';
import { normalizeJsonSchema } from './json-schema';
import { runEmbedding } from './embeddings';
import type { ModelInstance } from './model-instance';
import { EmbedMsg, SamplingSchema } from '@corral/worker-protocol';
import { toEvaluateOptions } from './sampling';

describe('worker-side bounds', () => {
  it('never sizes the repeat-penalty window past the context', () => {
    const o = toEvaluateOptions(SamplingSchema.parse({ repeatLastN: 1_000_000_000 }), {
      history: () => [1, 2, 3] as Token[],
      contextSize: 2048,
      newlineToken: null,
    });
    expect(o.repeatPenalty).toMatchObject({ maxPunishTokens: 2048 });
  });

  it('takes seeds modulo 2^32', () => {
    const o = toEvaluateOptions(SamplingSchema.parse({ seed: 2 ** 40 + 7 }), {
      history: () => [],
      contextSize: 16,
      newlineToken: null,
    });
    expect(o.seed).toBe(7);
  });

  it('refuses a JSON schema too deep to convert, without overflowing the stack', () => {
    let s: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 20_000; i++) s = { type: 'object', properties: { a: s } };
    expect(() => normalizeJsonSchema(s)).toThrow(WorkerJobError);
    expect(() => normalizeJsonSchema(s)).toThrow('nested more than 64 levels deep');
  });

  it('refuses more embedding inputs than the bound before embedding any', async () => {
    const instance = {
      getEmbeddingContext: () => {
        throw new Error('must not be reached');
      },
    } as unknown as ModelInstance;
    const job = EmbedMsg.parse({
      type: 'embed',
      id: 'j',
      model: { key: 'k', name: 'n', path: '/m', numCtx: 16, numParallel: 1 },
      inputs: Array(100_000).fill('x'),
    });
    await expect(runEmbedding(job, instance, 0, new AbortController().signal)).rejects.toThrow(
      'at most 2048 inputs',
    );
  });
});
