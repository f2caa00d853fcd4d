import { estimateTokens, validateChunking } from './index';

describe('validateChunking', () => {
  it('accepts auto, absent (auto) and in-range static', () => {
    expect(validateChunking({ type: 'auto' })).toEqual({ type: 'auto' });
    expect(validateChunking(undefined)).toEqual({ type: 'auto' });
    const s = { type: 'static', static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } };
    expect(validateChunking(s)).toEqual(s);
    expect(
      validateChunking({ type: 'static', static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 } }),
    ).toBeTruthy();
    expect(
      validateChunking({
        type: 'static',
        static: { max_chunk_size_tokens: 4096, chunk_overlap_tokens: 2048 },
      }),
    ).toBeTruthy();
  });

  it.each([
    [null, 'chunking_strategy must be an object'],
    [{ type: 'semantic' }, 'chunking_strategy.type must be "auto" or "static", not "semantic"'],
    [{ type: 'static' }, 'chunking_strategy.static must be an object'],
    [
      { type: 'static', static: { max_chunk_size_tokens: 99, chunk_overlap_tokens: 0 } },
      'max_chunk_size_tokens must be an integer from 100 to 4096, not 99',
    ],
    [
      { type: 'static', static: { max_chunk_size_tokens: 4097, chunk_overlap_tokens: 0 } },
      'from 100 to 4096, not 4097',
    ],
    [
      { type: 'static', static: { max_chunk_size_tokens: 500.5, chunk_overlap_tokens: 0 } },
      'must be an integer',
    ],
    [
      { type: 'static', static: { max_chunk_size_tokens: 500, chunk_overlap_tokens: -1 } },
      'chunk_overlap_tokens must be an integer of 0 or more, not -1',
    ],
    [
      { type: 'static', static: { max_chunk_size_tokens: 500, chunk_overlap_tokens: 251 } },
      'chunk_overlap_tokens (251) must not exceed half of max_chunk_size_tokens (500)',
    ],
    [
      { type: 'static', static: { max_chunk_size_tokens: 500 } },
      'chunk_overlap_tokens must be an integer of 0 or more, not undefined',
    ],
    [{ type: 'auto', extra: 1 }, 'chunking_strategy has unknown field "extra"'],
  ])('rejects %j', (input, message) => {
    expect(() => validateChunking(input)).toThrow(message);
  });
});

describe('estimateTokens', () => {
  it('counts words by length, punctuation and CJK characters one each', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('the cat')).toBe(2);
    expect(estimateTokens('internationalization')).toBe(5);
    expect(estimateTokens('Hi, you!')).toBe(4);
    expect(estimateTokens('東京都')).toBe(3);
  });
});
