import OpenAI from 'openai';
import { CorralError } from '@corral/common';
import { checkDimensions, embeddingInputs, embeddingList, shorten, toBase64Floats } from './embedding.mapper';

function failure(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error('expected a CorralError');
}

/** An SDK client whose "server" answers every request with `body`, so its own decoding runs. */
function sdkAnswering(body: unknown): OpenAI {
  return new OpenAI({
    apiKey: 'test',
    baseURL: 'http://corral.invalid/v1',
    fetch: async () =>
      new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } }),
  });
}

const vectors = [
  [0.1, -0.25, 3.5e-8, 1e6, -0],
  [0.6, 0.8, 0, 0, 0],
];

describe('embeddings: base64', () => {
  it('round-trips through the openai SDK, which asks for base64 by default and decodes it', async () => {
    const body = embeddingList('embed:latest', vectors, 7, { encoding: 'base64' });
    expect(typeof body.data[0]?.embedding).toBe('string');
    const res = await sdkAnswering(body).embeddings.create({ model: 'embed:latest', input: ['a', 'b'] });
    expect(res.data.map((d) => d.embedding)).toEqual(vectors.map((v) => Array.from(Float32Array.from(v))));
    expect(res.usage).toEqual({ prompt_tokens: 7, total_tokens: 7 });
  });

  it('writes little-endian float32, 4 bytes per component', () => {
    const bytes = Buffer.from(toBase64Floats([1, -2]), 'base64');
    expect([...bytes]).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
  });

  it('sends plain numbers for encoding_format float and by default', () => {
    expect(embeddingList('m', vectors, 1, { encoding: 'float' }).data[1]?.embedding).toEqual([
      0.6, 0.8, 0, 0, 0,
    ]);
    expect(embeddingList('m', vectors, 1, {})).toMatchObject({
      object: 'list',
      model: 'm',
      data: [
        { object: 'embedding', index: 0 },
        { object: 'embedding', index: 1 },
      ],
    });
  });
});

describe('embeddings: dimensions', () => {
  it('truncates and renormalises to unit length', () => {
    const v = shorten([3, 4, 12], 2);
    expect(v[0]).toBeCloseTo(0.6);
    expect(v[1]).toBeCloseTo(0.8);
    expect(embeddingList('m', [[3, 4, 12]], 1, { dimensions: 2 }).data[0]?.embedding).toHaveLength(2);
  });

  it('refuses more dimensions than the model has, before and after running', () => {
    expect(failure(() => checkDimensions(1024, 768))).toMatchObject({ status: 400, param: 'dimensions' });
    expect(() => checkDimensions(768, 768)).not.toThrow();
    expect(failure(() => shorten([1, 2], 3)).message).toBe("'dimensions' must be at most 2 for this model");
  });
});

describe('embeddings: input', () => {
  it('takes a string or a list of strings', () => {
    expect(embeddingInputs('one')).toEqual(['one']);
    expect(embeddingInputs(['a', 'b'])).toEqual(['a', 'b']);
  });

  it('refuses token ids, empty lists and empty strings, naming the field', () => {
    expect(failure(() => embeddingInputs([1, 2, 3]))).toMatchObject({ status: 400, param: 'input' });
    expect(failure(() => embeddingInputs([[1, 2]]))).toMatchObject({ status: 400, param: 'input' });
    expect(failure(() => embeddingInputs([])).message).toBe("'input' must have at least 1 item");
    expect(failure(() => embeddingInputs(['a', ''])).param).toBe('input[1]');
  });
});
