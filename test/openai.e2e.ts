/**
 * The real server, driven by the `openai` npm SDK the way applications use it: chat (plain,
 * streamed, with usage), structured output, tool calls (forced and parsed), legacy completions,
 * embeddings (float and the SDK's default base64), the model list, and errors in OpenAI's shape.
 */
import OpenAI, { APIError } from 'openai';
import {
  CLIENT_MODELS,
  SCRIPT_TEXT,
  cosine,
  startWithTinyModels,
  type CorralProcess,
  type TinyServer,
} from '@corral/testing';

jest.setTimeout(180_000);

let server: TinyServer | undefined;
let corral: CorralProcess;
let openai: OpenAI;

beforeAll(async () => {
  server = await startWithTinyModels([...CLIENT_MODELS, { name: 'myns/random', model: 'random' }]);
  corral = server.corral;
  openai = new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: corral.key, maxRetries: 0 });
});

afterAll(() => server?.stop());

const hello: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Say hello' }];

const weatherTool: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', enum: ['Paris', 'Rome', 'Oslo'] }, metric: { type: 'boolean' } },
      required: ['city', 'metric'],
      additionalProperties: false,
    },
  },
};

async function apiError(p: Promise<unknown>): Promise<APIError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof APIError) return e;
    throw e;
  }
  throw new Error('expected an APIError');
}

describe('chat completions', () => {
  it('answers a non-streamed chat with usage', async () => {
    const r = await openai.chat.completions.create({ model: 'scripted', messages: hello });
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('scripted:latest');
    expect(r.system_fingerprint).toBe('fp_corral');
    expect(r.choices[0]?.message).toMatchObject({ role: 'assistant', content: SCRIPT_TEXT });
    expect(r.choices[0]?.finish_reason).toBe('stop');
    expect(r.usage?.completion_tokens).toBeGreaterThan(0);
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(r.usage?.total_tokens).toBe((r.usage?.prompt_tokens ?? 0) + (r.usage?.completion_tokens ?? 0));
  });

  it('streams the role first, then content, then finish_reason', async () => {
    const stream = await openai.chat.completions.create({ model: 'scripted', messages: hello, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(SCRIPT_TEXT);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.usage === undefined)).toBe(true);
  });

  it('adds a usage chunk when stream_options.include_usage is set', async () => {
    const stream = await openai.chat.completions.create({
      model: 'scripted',
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(last?.usage?.total_tokens).toBe(
      (last?.usage?.prompt_tokens ?? 0) + (last?.usage?.completion_tokens ?? 0),
    );
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('honours max_tokens (finish_reason length) and stop', async () => {
    const cut = await openai.chat.completions.create({ model: 'scripted', messages: hello, max_tokens: 2 });
    expect(cut.choices[0]?.message.content).toBe('Hello from');
    expect(cut.choices[0]?.finish_reason).toBe('length');
    const newer = await openai.chat.completions.create({
      model: 'scripted',
      messages: hello,
      max_completion_tokens: 2,
    });
    expect(newer.usage?.completion_tokens).toBe(2);
    const stopped = await openai.chat.completions.create({
      model: 'scripted',
      messages: hello,
      stop: [' Corral'],
    });
    expect(stopped.choices[0]?.message.content).toBe('Hello from');
    expect(stopped.choices[0]?.finish_reason).toBe('stop');
  });

  it('returns JSON that validates against a json_schema response_format', async () => {
    const schema = {
      type: 'object',
      properties: { color: { type: 'string', enum: ['red', 'green', 'blue'] }, ok: { type: 'boolean' } },
      required: ['color', 'ok'],
      additionalProperties: false,
    };
    for (const seed of [1, 2]) {
      const r = await openai.chat.completions.create({
        model: 'random',
        messages: [{ role: 'user', content: 'Pick a color' }],
        response_format: { type: 'json_schema', json_schema: { name: 'pick', schema, strict: true } },
        seed,
        temperature: 1,
      });
      const v = JSON.parse(r.choices[0]?.message.content ?? '') as { color: string; ok: boolean };
      expect(['red', 'green', 'blue']).toContain(v.color);
      expect(typeof v.ok).toBe('boolean');
      expect(Object.keys(v).sort()).toEqual(['color', 'ok']);
    }
  });

  it('forces a tool call with tool_choice, arguments valid for the tool', async () => {
    const r = await openai.chat.completions.create({
      model: 'random',
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      seed: 3,
    });
    const choice = r.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    const call = choice?.message.tool_calls?.[0];
    expect(call?.id).toMatch(/^call_/);
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    const args = JSON.parse(call.function.arguments) as { city: string; metric: boolean };
    expect(['Paris', 'Rome', 'Oslo']).toContain(args.city);
    expect(typeof args.metric).toBe('boolean');
  });

  it('streams a forced tool call that the SDK reassembles', async () => {
    const stream = await openai.chat.completions.create({
      model: 'random',
      messages: [{ role: 'user', content: 'Weather?' }],
      tools: [weatherTool],
      tool_choice: 'required',
      stream: true,
    });
    let name = '';
    let args = '';
    let finish: string | null | undefined;
    for await (const c of stream) {
      const call = c.choices[0]?.delta.tool_calls?.[0];
      name += call?.function?.name ?? '';
      args += call?.function?.arguments ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe('get_weather');
    expect(['Paris', 'Rome', 'Oslo']).toContain((JSON.parse(args) as { city: string }).city);
    expect(finish).toBe('tool_calls');
  });

  it('parses a tool call the model writes itself (tool_choice auto)', async () => {
    const r = await openai.chat.completions.create({
      model: 'tools',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
    });
    const call = r.choices[0]?.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
    expect(r.choices[0]?.finish_reason).toBe('tool_calls');
    const none = await openai.chat.completions.create({
      model: 'tools',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
      tool_choice: 'none',
    });
    expect(none.choices[0]?.message.tool_calls).toBeUndefined();
    expect(none.choices[0]?.message.content).toContain('get_weather');
  });
});

describe('completions', () => {
  it('completes a prompt, streamed and not', async () => {
    const r = await openai.completions.create({ model: 'scripted', prompt: 'Once' });
    expect(r.object).toBe('text_completion');
    expect(r.choices[0]?.text).toBe(SCRIPT_TEXT);
    expect(r.choices[0]?.finish_reason).toBe('stop');
    expect(r.usage?.completion_tokens).toBeGreaterThan(0);
    const stream = await openai.completions.create({
      model: 'scripted',
      prompt: ['Once'],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.text ?? '';
      usage = c.usage ?? usage;
    }
    expect(text).toBe(SCRIPT_TEXT);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });
});

describe('embeddings', () => {
  it('returns float vectors of the model’s width; identical inputs have cosine 1', async () => {
    const r = await openai.embeddings.create({
      model: 'random',
      input: ['the cat', 'the cat', 'a dog'],
      encoding_format: 'float',
    });
    expect(r.object).toBe('list');
    expect(r.model).toBe('random:latest');
    expect(r.data.map((d) => d.index)).toEqual([0, 1, 2]);
    const [a, b, c] = r.data.map((d) => d.embedding) as [number[], number[], number[]];
    expect(a).toHaveLength(64);
    expect(cosine(a, b)).toBeCloseTo(1, 6);
    expect(cosine(a, c)).toBeLessThan(0.9999);
    expect(r.usage.prompt_tokens).toBeGreaterThan(0);
    expect(r.usage.total_tokens).toBe(r.usage.prompt_tokens);
  });

  it('sends base64 that the SDK decodes by default to the same vectors', async () => {
    const float = await openai.embeddings.create({
      model: 'random',
      input: 'the cat',
      encoding_format: 'float',
    });
    const decoded = await openai.embeddings.create({ model: 'random', input: 'the cat' });
    const v = decoded.data[0]?.embedding ?? [];
    expect(v).toHaveLength(64);
    expect(v).toEqual(Array.from(Float32Array.from(float.data[0]?.embedding ?? [])));
    expect(cosine(v, float.data[0]?.embedding ?? [])).toBeCloseTo(1, 6);
  });

  it('shortens to `dimensions` with unit length, and refuses more than the model has', async () => {
    const r = await openai.embeddings.create({ model: 'random', input: 'the cat', dimensions: 16 });
    const v = r.data[0]?.embedding ?? [];
    expect(v).toHaveLength(16);
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    const e = await apiError(openai.embeddings.create({ model: 'random', input: 'x', dimensions: 65 }));
    expect(e.status).toBe(400);
    expect((e.error as { param?: string }).param).toBe('dimensions');
  });
});

describe('models', () => {
  it('lists models with unix created and owner', async () => {
    const list = [];
    for await (const m of openai.models.list()) list.push(m);
    expect(list.map((m) => m.id).sort()).toEqual([
      'myns/random:latest',
      'random:latest',
      'scripted:latest',
      'tools:latest',
    ]);
    const now = Date.now() / 1000;
    for (const m of list) {
      expect(m.object).toBe('model');
      expect(m.created).toBeGreaterThan(now - 3600);
      expect(m.created).toBeLessThanOrEqual(now + 1);
    }
    expect(list.find((m) => m.id === 'random:latest')?.owned_by).toBe('library');
    expect(list.find((m) => m.id === 'myns/random:latest')?.owned_by).toBe('myns');
  });

  it('retrieves ids that contain ":" and "/"', async () => {
    expect(await openai.models.retrieve('scripted:latest')).toMatchObject({
      id: 'scripted:latest',
      object: 'model',
      owned_by: 'library',
    });
    expect(await openai.models.retrieve('myns/random:latest')).toMatchObject({
      id: 'myns/random:latest',
      owned_by: 'myns',
    });
    const e = await apiError(openai.models.retrieve('nope:latest'));
    expect(e.status).toBe(404);
    expect(e.code).toBe('model_not_found');
  });
});

describe('errors in OpenAI shape', () => {
  it('404s an unknown model with model_not_found', async () => {
    const e = await apiError(openai.chat.completions.create({ model: 'no-such-model', messages: hello }));
    expect(e.status).toBe(404);
    expect(e.code).toBe('model_not_found');
    expect(e.type).toBe('not_found_error');
    expect(e.message).toContain("The model 'no-such-model' does not exist");
  });

  it('refuses n=2 naming the parameter', async () => {
    const e = await apiError(openai.chat.completions.create({ model: 'scripted', messages: hello, n: 2 }));
    expect(e.status).toBe(400);
    expect(e.type).toBe('invalid_request_error');
    expect(e.param).toBe('n');
    expect(e.message).toContain("'n'");
  });

  it('names a missing field and refuses images', async () => {
    const res = await fetch(`${corral.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...corral.authHeaders },
      body: JSON.stringify({ model: 'scripted' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: "'messages' is required",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'bad_request',
      },
    });
    const wrong = await fetch(`${corral.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...corral.authHeaders },
      body: JSON.stringify({ model: 'm', messages: hello, stream: 'yes' }),
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({
      error: { message: "'stream' must be a boolean", param: 'stream' },
    });
    const e = await apiError(
      openai.chat.completions.create({
        model: 'scripted',
        messages: [
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }],
          },
        ],
      }),
    );
    expect(e.status).toBe(400);
    expect(e.message).toContain('this model does not support images');
  });
});
