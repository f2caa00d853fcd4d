import { l2Normalize } from './embeddings';
import type { FromWorker } from '@corral/worker-protocol';
import { Harness, STORIES, describeWithModel, lastOf, spec } from '@corral/testing';

jest.setTimeout(60_000);

const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);

describe('l2Normalize', () => {
  it('scales to unit length and leaves a zero vector alone', () => {
    expect(l2Normalize([3, 4])).toEqual([0.6, 0.8]);
    expect(l2Normalize([0, 0])).toEqual([0, 0]);
  });
});

describeWithModel(STORIES, 'embeddings with stories260K', () => {
  const h = new Harness();
  const model = spec(STORIES, { numCtx: 64, key: 'embed' });
  afterAll(() => h.host.shutdown());

  async function embed(inputs: string[], truncate = true): Promise<FromWorker> {
    return lastOf(await h.request({ type: 'embed', id: h.nextId('embed'), model, inputs, truncate }));
  }

  it('returns deterministic, L2-normalized vectors; identical texts have cosine 1', async () => {
    const first = await embed([
      'The cat sat on the mat.',
      'The cat sat on the mat.',
      'A dragon flew over the sea.',
    ]);
    const again = await embed(['The cat sat on the mat.']);
    if (first.type !== 'embeddings' || again.type !== 'embeddings') throw new Error(JSON.stringify(first));
    const [a, b, c] = first.vectors as [number[], number[], number[]];
    expect(a.length).toBe(64); // stories260K hidden size
    for (const v of [a, b, c]) expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 6);
    expect(dot(a, b)).toBeCloseTo(1, 6);
    expect(dot(a, c)).toBeLessThan(0.999);
    expect(again.vectors[0]).toEqual(a);
    expect(first.promptTokens).toBeGreaterThan(10);
    expect(first.totalDurationNs).toBeGreaterThan(0);
  });

  it('truncates long input by default and fails with context_overflow when truncate is off', async () => {
    const long = 'Lily went to the park and played with her friends all day long. '.repeat(20);
    const cut = await embed([long]);
    expect(cut.type).toBe('embeddings');
    if (cut.type === 'embeddings') expect(cut.promptTokens).toBeLessThan(64);
    expect(await embed([long], false)).toMatchObject({ type: 'error', code: 'context_overflow' });
  });
});
