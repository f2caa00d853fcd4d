import { CorralError } from '@corral/common';
import { planChat, toChatMessages } from './chat.mapper';
import { ChatRequestSchema, type ChatRequest } from './dto/chat.dto';
import { parseBody } from './validation';

const user = { role: 'user', content: 'What is the weather in Paris?' };
const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: {
        city: { type: 'string', minLength: 1, pattern: '^[A-Z]' },
        days: { type: 'integer', minimum: 1 },
      },
      required: ['city'],
      additionalProperties: false,
    },
  },
};
const time = { type: 'function', function: { name: 'get_time' } };

function plan(extra: Record<string, unknown>) {
  return planChat(parseBody(ChatRequestSchema, { model: 'tiny', messages: [user], ...extra }) as ChatRequest);
}

function failure(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CorralError) return e;
    throw e;
  }
  throw new Error('expected a CorralError');
}

describe('planChat: sampling', () => {
  it('maps OpenAI parameters onto Ollama option names', () => {
    const p = plan({
      temperature: 0.2,
      top_p: 0.9,
      seed: 42,
      stop: 'END',
      max_tokens: 64,
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
      user: 'u1',
    });
    expect(p.options).toEqual({
      temperature: 0.2,
      top_p: 0.9,
      seed: 42,
      stop: ['END'],
      num_predict: 64,
      frequency_penalty: 0.5,
      presence_penalty: -0.5,
    });
  });

  it('leaves unset parameters out so the Modelfile values apply', () => {
    expect(plan({ temperature: null, stop: [] }).options).toEqual({});
  });

  it('prefers max_completion_tokens over the older max_tokens', () => {
    expect(plan({ max_tokens: 10, max_completion_tokens: 20 }).options.num_predict).toBe(20);
  });

  it('streams with usage only when asked', () => {
    expect(plan({ stream: true, stream_options: { include_usage: true } })).toMatchObject({
      stream: true,
      includeUsage: true,
    });
    expect(plan({ stream_options: { include_usage: true } })).toMatchObject({
      stream: false,
      includeUsage: false,
    });
  });

  it.each([
    [{ n: 2 }, 'n'],
    [{ logprobs: true }, 'logprobs'],
    [{ top_logprobs: 3 }, 'top_logprobs'],
    [{ logit_bias: { '50256': -100 } }, 'logit_bias'],
  ])('refuses %j with a 400 naming the parameter', (extra, param) => {
    const e = failure(() => plan(extra));
    expect(e.status).toBe(400);
    expect(e.param).toBe(param);
    expect(e.message).toContain(`'${param}'`);
  });

  it('accepts n: 1 and logprobs: false', () => {
    expect(() => plan({ n: 1, logprobs: false })).not.toThrow();
  });
});

describe('planChat: response_format and tools', () => {
  it('maps response_format onto grammar constraints', () => {
    expect(plan({ response_format: { type: 'text' } }).constraint).toBeUndefined();
    expect(plan({ response_format: { type: 'json_object' } }).constraint).toEqual({ type: 'json' });
    const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
    expect(
      plan({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } })
        .constraint,
    ).toEqual({
      type: 'json_schema',
      schema,
    });
  });

  it('keeps a strict schema whole but relaxes a non-strict one to what the grammar enforces', () => {
    const schema = { type: 'object', properties: { n: { type: 'integer', minimum: 3 } } };
    const strict = plan({
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } },
    });
    const loose = plan({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } });
    expect(strict.constraint).toEqual({ type: 'json_schema', schema });
    expect(loose.constraint).toEqual({
      type: 'json_schema',
      schema: { type: 'object', properties: { n: { type: 'integer' } } },
    });
  });

  it('offers tools to the model and parses calls when tool_choice is auto or absent', () => {
    for (const p of [plan({ tools: [weather] }), plan({ tools: [weather], tool_choice: 'auto' })]) {
      expect(p.toolMode.kind).toBe('auto');
      expect(p.tools?.map((t) => t.name)).toEqual(['get_weather']);
      expect(p.constraint).toBeUndefined();
    }
  });

  it('ignores tools when tool_choice is none', () => {
    const p = plan({ tools: [weather], tool_choice: 'none' });
    expect(p.toolMode).toEqual({ kind: 'none' });
    expect(p.tools).toBeUndefined();
  });

  it('forces a named tool with a grammar whose output is its arguments object', () => {
    const p = plan({
      tools: [weather, time],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    expect(p.toolMode).toMatchObject({ kind: 'forced', tools: [{ name: 'get_weather' }] });
    // minLength is enforced by the grammar and kept; pattern and minimum are not, and are dropped.
    expect(p.constraint).toEqual({
      type: 'json_schema',
      schema: {
        type: 'object',
        properties: { city: { type: 'string', minLength: 1 }, days: { type: 'integer' } },
        required: ['city'],
        additionalProperties: false,
      },
    });
  });

  it('forces some call for "required", letting the model pick among several tools', () => {
    const p = plan({ tools: [weather, time], tool_choice: 'required' });
    expect(p.constraint?.type).toBe('json_schema');
    const schema = (p.constraint as unknown as { schema: { oneOf: { properties: { name: unknown } }[] } })
      .schema;
    expect(schema.oneOf.map((b) => b.properties.name)).toEqual([
      { const: 'get_weather' },
      { const: 'get_time' },
    ]);
    expect(plan({ tools: [time], tool_choice: 'required' }).constraint).toEqual({
      type: 'json_schema',
      schema: { type: 'object', properties: {} },
    });
  });

  it('refuses a tool_choice that names an unknown tool, or needs tools that are missing', () => {
    expect(
      failure(() => plan({ tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } }))
        .param,
    ).toBe('tool_choice');
    expect(failure(() => plan({ tool_choice: 'required' })).param).toBe('tool_choice');
  });
});

describe('toChatMessages', () => {
  it('maps roles, content parts and tool round trips onto the prompt protocol', () => {
    const body = parseBody(ChatRequestSchema, {
      model: 'tiny',
      messages: [
        { role: 'developer', content: 'Be brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather' },
            { type: 'text', text: 'in Paris?' },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'assistant', content: 'It is 18C.' },
      ],
    }) as ChatRequest;
    expect(toChatMessages(body.messages)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather\nin Paris?' },
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, id: 'call_1' }],
      },
      { role: 'tool', content: '18C', toolName: 'get_weather' },
      { role: 'assistant', content: 'It is 18C.' },
    ]);
  });

  it('refuses image parts with the message clients expect, pointing at the part', () => {
    const e = failure(() =>
      plan({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what is this?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            ],
          },
        ],
      }),
    );
    expect(e.status).toBe(400);
    expect(e.message).toBe('this model does not support images');
    expect(e.param).toBe('messages[0].content[1]');
  });

  it('refuses tool call arguments that are not a JSON object', () => {
    const bad = {
      role: 'assistant',
      tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }],
    };
    const e = failure(() => plan({ messages: [user, bad] }));
    expect(e.param).toBe('messages[1].tool_calls[0].function.arguments');
    expect(e.message).toContain('not valid JSON');
  });
});
