import type { ToolCall } from '@corral/worker-protocol';
import { ToolCallDetector, extractToolCalls, parseToolCalls } from './tool-calls';
import { WEATHER_TOOLS } from './testdata/conversations';

const paris: ToolCall = { name: 'get_weather', arguments: { city: 'Paris' } };
const time: ToolCall = { name: 'get_time', arguments: {} };

describe('parseToolCalls recognises what models emit', () => {
  const cases: [string, string, ToolCall[]][] = [
    ['bare object with arguments', '{"name": "get_weather", "arguments": {"city": "Paris"}}', [paris]],
    [
      'bare object with parameters (Llama 3.x)',
      ' {"name": "get_weather", "parameters": {"city": "Paris"}}\n',
      [paris],
    ],
    [
      'array of calls',
      '[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time"}]',
      [paris, time],
    ],
    [
      'arguments as a JSON string (OpenAI style)',
      '{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}',
      [paris],
    ],
    [
      'function-call object',
      '{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}',
      [paris],
    ],
    ['fenced JSON', '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```', [paris]],
    [
      'Qwen/Hermes tags',
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
      [paris],
    ],
    [
      'several Qwen calls',
      '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
      [paris, time],
    ],
    ['Qwen call cut before its closing tag', '<tool_call>\n{"name": "get_time", "arguments": {}}', [time]],
    [
      'Mistral [TOOL_CALLS] array',
      '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]',
      [paris],
    ],
    ['Mistral v11 [TOOL_CALLS]name[ARGS]', '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}', [paris]],
    [
      'Llama 3.1 python tag',
      '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>',
      [paris],
    ],
    [
      'Llama python tag, two calls',
      '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_time", "parameters": {}}',
      [paris, time],
    ],
    ['<function=name> tags', '<function=get_weather>{"city": "Paris"}</function>', [paris]],
    [
      'braces inside strings',
      '{"name": "get_weather", "arguments": {"city": "Pa}ris{"}}',
      [{ name: 'get_weather', arguments: { city: 'Pa}ris{' } }],
    ],
  ];
  it.each(cases)('%s', (_name, text, expected) => {
    expect(parseToolCalls(text, WEATHER_TOOLS)).toEqual(expected);
  });
});

describe('parseToolCalls leaves plain content alone', () => {
  const cases: [string, string][] = [
    ['prose', 'The weather in Paris is sunny.'],
    ['prose with braces', 'Use {name} as a placeholder, e.g. {"name": "x"} in templates.'],
    ['JSON that is not a call', '{"city": "Paris", "temp": 21}'],
    ['unknown function name', '{"name": "delete_everything", "arguments": {}}'],
    ['unknown name in tags', '<tool_call>{"name": "rm", "arguments": {}}</tool_call>'],
    [
      'one unknown element spoils a bare array',
      '[{"name": "get_time", "arguments": {}}, {"name": "rm", "arguments": {}}]',
    ],
    ['JSON followed by prose', '{"name": "get_time", "arguments": {}} and then I will answer'],
    ['arguments not an object', '{"name": "get_time", "arguments": [1, 2]}'],
    ['arguments string that is not JSON', '{"name": "get_time", "arguments": "now please"}'],
    ['truncated JSON', '{"name": "get_weather", "arguments": {"city": "Par'],
    ['empty', ''],
    ['JSON array of numbers', '[1, 2, 3]'],
  ];
  it.each(cases)('%s', (_name, text) => {
    expect(parseToolCalls(text, WEATHER_TOOLS)).toBeNull();
  });

  it('nothing is a tool call when the request offered no tools', () => {
    expect(parseToolCalls('{"name": "get_time", "arguments": {}}', [])).toBeNull();
  });
});

describe('extractToolCalls', () => {
  it('keeps the prose around tagged calls as content', () => {
    expect(
      extractToolCalls(
        'Let me check.\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>',
        WEATHER_TOOLS,
      ),
    ).toEqual({
      calls: [time],
      content: 'Let me check.',
    });
  });

  it('keeps an id the model gave', () => {
    expect(
      parseToolCalls('{"id": "call_1", "function": {"name": "get_time", "arguments": "{}"}}', WEATHER_TOOLS),
    ).toEqual([{ name: 'get_time', arguments: {}, id: 'call_1' }]);
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

  it('buffers every shape a call can start with, whichever dialect asked', () => {
    const starts = [
      '<tool_call>',
      '[TOOL_CALLS]',
      '<|python_tag|>',
      '<function=get_time>',
      '```json\n',
      '```\n',
      '{"name"',
      '[{"name"',
      '\n  {\n "name"',
    ];
    for (const start of starts) {
      const d = new ToolCallDetector(WEATHER_TOOLS);
      expect([d.push(start), d.state]).toEqual(['', 'tool_call']);
    }
  });
});
