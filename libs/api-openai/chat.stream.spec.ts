import type { ToolDef } from '@corral/worker-protocol';
import type { ToolMode } from './chat.mapper';
import { chatCompletion } from './chat.response';
import { chatChunks, type ChatCompletionChunk } from './chat.stream';
import { all, done, run } from './test-events';

const weather: ToolDef = {
  name: 'get_weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } } },
};
const time: ToolDef = { name: 'get_time' };
const meta = { id: 'chatcmpl-1', created: 1700000000, model: 'tiny:latest' };

function chunks(pieces: string[], toolMode: ToolMode, includeUsage = false, end = done()) {
  return all(chatChunks(run(pieces, end), { ...meta, toolMode, includeUsage }));
}

const deltas = (cs: ChatCompletionChunk[]) => cs.map((c) => c.choices[0]?.delta);
const finishes = (cs: ChatCompletionChunk[]) => cs.map((c) => c.choices[0]?.finish_reason ?? null);

describe('chat stream chunks', () => {
  it('sends the role, then content pieces, then finish_reason', async () => {
    const cs = await chunks(['Hel', 'lo', ''], { kind: 'none' });
    expect(deltas(cs)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hel' },
      { content: 'lo' },
      {},
    ]);
    expect(finishes(cs)).toEqual([null, null, null, 'stop']);
    for (const c of cs) {
      expect(c).toMatchObject({ ...meta, object: 'chat.completion.chunk', system_fingerprint: 'fp_corral' });
      expect(c).not.toHaveProperty('usage');
    }
  });

  it('reports length when max_tokens cut the answer', async () => {
    expect(
      finishes(await chunks(['a'], { kind: 'none' }, false, done({ doneReason: 'length' }))).at(-1),
    ).toBe('length');
  });

  it('adds a last chunk with usage and no choices when include_usage is set', async () => {
    const cs = await chunks(['Hi'], { kind: 'none' }, true, done({ promptTokens: 7, completionTokens: 1 }));
    expect(cs).toHaveLength(4);
    expect(cs.slice(0, 3).every((c) => c.usage === null)).toBe(true);
    expect(cs[3]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 },
    });
  });

  it('streams a forced call as one tool call whose arguments arrive in pieces', async () => {
    const cs = await chunks(['{"city":', ' "Paris"}'], { kind: 'forced', tools: [weather] });
    const d = deltas(cs);
    expect(d[0]).toEqual({ role: 'assistant', content: null });
    const header = d[1]?.tool_calls?.[0];
    expect(header).toMatchObject({
      index: 0,
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    expect(header?.id).toMatch(/^call_/);
    expect(d.slice(2, 4)).toEqual([
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ' "Paris"}' } }] },
    ]);
    expect(finishes(cs).at(-1)).toBe('tool_calls');
  });

  it('with several candidate tools, sends the chosen call whole at the end', async () => {
    const cs = await chunks(['{"name":"get_time",', '"arguments":{}}'], {
      kind: 'forced',
      tools: [weather, time],
    });
    expect(deltas(cs)).toEqual([
      { role: 'assistant', content: null },
      {
        tool_calls: [
          {
            index: 0,
            id: expect.stringMatching(/^call_/),
            type: 'function',
            function: { name: 'get_time', arguments: '{}' },
          },
        ],
      },
      {},
    ]);
    expect(finishes(cs).at(-1)).toBe('tool_calls');
  });

  it('in auto mode holds back output that starts like a call, and sends it as tool_calls', async () => {
    const cs = await chunks(
      ['{"name": "get_weather",', ' "arguments": {"city": "Paris"}}'],
      { kind: 'auto', tools: [weather] },
      true,
    );
    const d = deltas(cs.filter((c) => c.choices.length > 0));
    expect(d).toEqual([
      { role: 'assistant', content: '' },
      {
        tool_calls: [
          {
            index: 0,
            id: expect.stringMatching(/^call_/),
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      {},
    ]);
    expect(finishes(cs).filter(Boolean)).toEqual(['tool_calls']);
    expect(cs.at(-1)?.usage).toEqual({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 });
  });

  it('in auto mode streams prose as it comes', async () => {
    const cs = await chunks(['  ', 'It is', ' sunny.'], { kind: 'auto', tools: [weather] });
    expect(deltas(cs)).toEqual([
      { role: 'assistant', content: '' },
      { content: '  It is' },
      { content: ' sunny.' },
      {},
    ]);
    expect(finishes(cs).at(-1)).toBe('stop');
  });

  it('in auto mode sends held text as content when it was not a call after all', async () => {
    const cs = await chunks(['{"temperature":', ' 18}'], { kind: 'auto', tools: [weather] });
    expect(deltas(cs)).toEqual([{ role: 'assistant', content: '' }, { content: '{"temperature": 18}' }, {}]);
  });
});

describe('chat.completion (non-streamed)', () => {
  it('returns the message, finish_reason and usage', () => {
    expect(chatCompletion({ ...meta, toolMode: { kind: 'none' } }, 'Hello!', done())).toEqual({
      ...meta,
      object: 'chat.completion',
      system_fingerprint: 'fp_corral',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello!', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
    });
  });

  it('returns a forced call with null content and the arguments as a JSON string', () => {
    const res = chatCompletion(
      { ...meta, toolMode: { kind: 'forced', tools: [weather] } },
      '{"city": "Paris"}',
      done(),
    );
    const choice = res.choices[0];
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city": "Paris"}' },
      },
    ]);
    expect(JSON.parse(choice?.message.tool_calls?.[0]?.function.arguments ?? '')).toEqual({ city: 'Paris' });
    expect(choice?.finish_reason).toBe('tool_calls');
  });

  it('parses calls in the model’s own format in auto mode', () => {
    const text = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
    const res = chatCompletion({ ...meta, toolMode: { kind: 'auto', tools: [weather] } }, text, done());
    expect(res.choices[0]?.message).toMatchObject({
      content: null,
      tool_calls: [{ function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    });
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('leaves prose alone in auto mode', () => {
    const res = chatCompletion(
      { ...meta, toolMode: { kind: 'auto', tools: [weather] } },
      'No tool needed.',
      done(),
    );
    expect(res.choices[0]?.message).toEqual({ role: 'assistant', content: 'No tool needed.', refusal: null });
    expect(res.choices[0]?.finish_reason).toBe('stop');
  });
});
