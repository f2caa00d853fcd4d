import { ToolCallDetector, splitThinking } from './thinking';
import { WEATHER_TOOLS } from './testdata/conversations';

describe('splitThinking', () => {
  it('separates a leading <think> block from the answer', () => {
    expect(splitThinking('<think>\nThe user greets me.\n</think>\n\nHello!')).toEqual({
      thinking: 'The user greets me.',
      content: 'Hello!',
    });
  });

  it('leaves text without a leading block as content, even if it mentions the tag later', () => {
    expect(splitThinking('Answer: use <think> tags.')).toEqual({ content: 'Answer: use <think> tags.' });
  });

  it('treats an unterminated block as all thinking (generation stopped mid-thought)', () => {
    expect(splitThinking('<think>still going')).toEqual({ thinking: 'still going', content: '' });
  });

  it('handles output whose <think> was opened by the prompt', () => {
    expect(splitThinking('reasoning</think>answer', { openedInPrompt: true })).toEqual({
      thinking: 'reasoning',
      content: 'answer',
    });
    expect(splitThinking('reasoning</think>answer')).toEqual({ content: 'reasoning</think>answer' });
  });

  it('drops an empty thinking block', () => {
    expect(splitThinking('<think>\n\n</think>\n\nHi')).toEqual({ content: 'Hi' });
  });
});

describe('ToolCallDetector', () => {
  const feed = (chunks: string[]): { streamed: string; final: ReturnType<ToolCallDetector['finish']> } => {
    const d = new ToolCallDetector(WEATHER_TOOLS);
    const streamed = chunks.map((c) => d.push(c)).join('');
    return { streamed, final: d.finish() };
  };

  it('streams plain content as soon as the first word shows it is not a call', () => {
    const d = new ToolCallDetector(WEATHER_TOOLS);
    expect(d.push('  ')).toBe('');
    expect(d.push('Hel')).toBe('  Hel');
    expect(d.state).toBe('content');
    expect(d.push('lo')).toBe('lo');
    expect(d.finish()).toEqual({ content: '', toolCalls: null });
  });

  it('buffers a call split across chunks and returns it at the end', () => {
    expect(feed(['<tool', '_call>\n{"name": "get_', 'time", "arguments": {}}', '\n</tool_call>'])).toEqual({
      streamed: '',
      final: { content: '', toolCalls: [{ name: 'get_time', arguments: {} }] },
    });
  });

  it('releases buffered JSON as content when it is not a call', () => {
    expect(feed(['{"temp"', ': 21}'])).toEqual({
      streamed: '',
      final: { content: '{"temp": 21}', toolCalls: null },
    });
  });

  it('does not hold back content that merely starts with a bracket', () => {
    const d = new ToolCallDetector(WEATHER_TOOLS);
    expect(d.push('[')).toBe('');
    expect(d.push('1] See the docs.')).toBe('[1] See the docs.');
    expect(new ToolCallDetector(WEATHER_TOOLS).push('{x} is a placeholder')).toBe('{x} is a placeholder');
  });

  it('streams everything when the request has no tools', () => {
    const d = new ToolCallDetector([]);
    expect(d.push('{"name": "x"}')).toBe('{"name": "x"}');
  });

  it('a short reply that never got decided is returned as content', () => {
    expect(feed(['<'])).toEqual({ streamed: '', final: { content: '<', toolCalls: null } });
  });
});
