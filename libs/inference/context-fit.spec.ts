import type { Token } from 'node-llama-cpp';
import { fitPromptToContext } from './context-fit';

const range = (n: number): Token[] => Array.from({ length: n }, (_, i) => i as Token);

describe('fitPromptToContext', () => {
  it('leaves a prompt that leaves room to generate alone', () => {
    expect(fitPromptToContext(range(99), 100, 1, Infinity)).toEqual({ tokens: range(99), truncated: 0 });
  });

  it('keeps numKeep head tokens and the newest tail, leaving room for the answer', () => {
    const { tokens, truncated } = fitPromptToContext(range(300), 100, 4, Infinity);
    expect(tokens).toHaveLength(75); // a quarter of the context is left for an unbounded answer
    expect(tokens.slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect(tokens[tokens.length - 1]).toBe(299);
    expect(truncated).toBe(225);
  });

  it('reserves the requested token budget, at most half the context', () => {
    expect(fitPromptToContext(range(300), 100, 1, 10).tokens).toHaveLength(90);
    expect(fitPromptToContext(range(300), 100, 1, 1000).tokens).toHaveLength(50);
  });
});
