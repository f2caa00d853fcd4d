import { toChatHistory } from './prompt';

describe('toChatHistory', () => {
  it('maps roles and opens an empty model turn to generate into', () => {
    expect(
      toChatHistory([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ]),
    ).toEqual([
      { type: 'system', text: 'Be brief.' },
      { type: 'user', text: 'Hi' },
      { type: 'model', response: [] },
    ]);
  });

  it('continues a trailing assistant message instead of opening a new turn (prefill)', () => {
    const h = toChatHistory([
      { role: 'user', content: 'Count' },
      { role: 'assistant', content: 'One, two,' },
    ]);
    expect(h[h.length - 1]).toEqual({ type: 'model', response: ['One, two,'] });
  });

  it('folds a tool result into the call it answers, then opens a new model turn', () => {
    const h = toChatHistory([
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: '', toolCalls: [{ name: 'weather', arguments: { city: 'Oslo' } }] },
      { role: 'tool', toolName: 'weather', content: '{"c": 3}' },
    ]);
    expect(h[1]).toEqual({
      type: 'model',
      response: [{ type: 'functionCall', name: 'weather', params: { city: 'Oslo' }, result: { c: 3 } }],
    });
    expect(h[2]).toEqual({ type: 'model', response: [] });
  });

  it('rejects a tool message that answers no call as bad_request', () => {
    expect(() => toChatHistory([{ role: 'tool', content: 'x' }])).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
  });
});
