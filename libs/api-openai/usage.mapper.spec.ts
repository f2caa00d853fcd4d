import { finishReason, toUsage } from './usage.mapper';

describe('usage and finish_reason', () => {
  it('adds prompt and completion tokens', () => {
    expect(toUsage({ promptTokens: 10, completionTokens: 5 })).toEqual({
      prompt_tokens: 10,
      completion_tokens: 5,
      total_tokens: 15,
    });
  });

  it.each([
    ['stop', false, 'stop'],
    ['stop', true, 'tool_calls'],
    ['length', false, 'length'],
    ['length', true, 'length'],
    ['cancelled', false, 'stop'],
  ] as const)('%s (tool calls: %s) → %s', (done, calls, expected) => {
    expect(finishReason(done, calls)).toBe(expected);
  });
});
