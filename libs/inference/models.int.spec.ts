import * as path from 'node:path';
import {
  Harness,
  MODELS_DIR,
  STORIES,
  STORIES_CHAT,
  describeWithModel,
  lastOf,
  spec,
  splitGeneration,
} from '@corral/testing';

jest.setTimeout(60_000);

describeWithModel(STORIES, 'model lifecycle', () => {
  const h = new Harness();
  afterAll(() => h.host.shutdown());

  it('loads once for concurrent loads of the same key and reports sizes', async () => {
    const model = spec(STORIES, { numCtx: 512, numParallel: 2, key: 'lifecycle' });
    const [a, b] = await Promise.all([
      h.request({ type: 'load', id: h.nextId('load'), model }),
      h.request({ type: 'load', id: h.nextId('load'), model }),
    ]);
    for (const msgs of [a, b]) {
      const m = lastOf(msgs!);
      expect(m.type).toBe('loaded');
      if (m.type !== 'loaded') return;
      expect(m.model).toMatchObject({ key: 'lifecycle', numParallel: 2, gpuLayers: 0, vramBytes: 0 });
      expect(m.model.numCtx).toBeGreaterThanOrEqual(512);
      // weights (1.17 MB of F32) plus the KV cache of 2 × 512 cells
      expect(m.model.sizeBytes).toBeGreaterThan(1_170_000);
      expect(m.model.loadDurationNs).toBeGreaterThan(0);
    }
    expect(h.logs.filter((l) => l.startsWith('loaded stories260K (lifecycle)'))).toHaveLength(1);
  });

  it('unload frees the model; the next job loads it again and reports the load time', async () => {
    const model = spec(STORIES, { key: 'reload' });
    const first = splitGeneration(
      await h.generate(model, 'Once', { numPredict: 3 }).then((r) => [...r.chunks, r.done]),
    );
    expect(first.done.loadDurationNs).toBeGreaterThan(0);
    const warm = await h.generate(model, 'Once', { numPredict: 3 });
    expect(warm.done.loadDurationNs).toBe(0);
    expect((await h.host.loadedModels()).map((m) => m.key)).toContain('reload');

    expect(lastOf(await h.request({ type: 'unload', id: h.nextId('unload'), key: 'reload' }))).toMatchObject({
      type: 'unloaded',
      key: 'reload',
    });
    expect((await h.host.loadedModels()).map((m) => m.key)).not.toContain('reload');

    const again = await h.generate(model, 'Once', { numPredict: 3 });
    expect(again.done.loadDurationNs).toBeGreaterThan(0);
  });

  it('ends a running generation as cancelled when its model is unloaded', async () => {
    const model = spec(STORIES, { key: 'unload-running' });
    await h.request({ type: 'load', id: h.nextId('load'), model });
    const running = h.generate(model, 'Once upon a time', { numPredict: 100_000 });
    await new Promise((r) => setTimeout(r, 50));
    await h.request({ type: 'unload', id: h.nextId('unload'), key: 'unload-running' });
    expect((await running).done.doneReason).toBe('cancelled');
  });

  it('reports a missing file and a non-GGUF file as model_load_failed', async () => {
    for (const file of ['/nonexistent/model.gguf', path.join(MODELS_DIR, 'SOURCES.md')]) {
      const msgs = await h.request({ type: 'load', id: h.nextId('bad'), model: spec(file, { key: file }) });
      expect(lastOf(msgs)).toMatchObject({ type: 'error', code: 'model_load_failed' });
    }
    // a failed load is not cached: a later job on the same key tries again and fails the same way
    const gen = await h.request({
      type: 'generate',
      id: h.nextId('bad'),
      model: spec('/nonexistent/model.gguf', { key: '/nonexistent/model.gguf' }),
      prompt: { kind: 'text', text: 'x' },
      sampling: {},
    });
    expect(lastOf(gen)).toMatchObject({ type: 'error', code: 'model_load_failed' });
  });

  it('answers a malformed message with bad_request and keeps working', async () => {
    const id = h.nextId('bad');
    const msgs = await h.request({
      type: 'generate',
      id,
      model: spec(STORIES),
      prompt: { kind: 'nope' },
    } as never);
    expect(lastOf(msgs)).toMatchObject({ type: 'error', id, code: 'bad_request' });
    const empty = await h.request({
      type: 'generate',
      id: h.nextId('empty'),
      model: spec(STORIES),
      prompt: { kind: 'text', text: '', addBos: false },
      sampling: {},
    });
    expect(lastOf(empty)).toMatchObject({ type: 'error', code: 'bad_request' });
    expect((await h.generate(spec(STORIES), 'Once', { numPredict: 2 })).done.completionTokens).toBe(2);
  });
});

describeWithModel(STORIES_CHAT, 'chat prompts', () => {
  const h = new Harness();
  afterAll(() => h.host.shutdown());

  async function promptTokens(
    model: ReturnType<typeof spec>,
    messages: { role: 'system' | 'user' | 'assistant'; content: string }[],
  ) {
    const msgs = await h.request({
      type: 'generate',
      id: h.nextId('chat'),
      model,
      prompt: { kind: 'chat', messages },
      sampling: { temperature: 0, numPredict: 4 },
      returnContext: true,
    });
    const { done } = splitGeneration(msgs);
    return done.context?.slice(0, done.promptTokens) ?? [];
  }

  async function tokenize(model: ReturnType<typeof spec>, text: string) {
    const m = lastOf(await h.request({ type: 'tokenize', id: h.nextId('tok'), model, text }));
    if (m.type !== 'tokenized') throw new Error(JSON.stringify(m));
    return m.tokens;
  }

  it('renders with the Jinja chat template from the GGUF metadata', async () => {
    const model = spec(STORIES_CHAT, { key: 'chat-template' });
    const tokens = await promptTokens(model, [
      { role: 'system', content: 'You tell stories.' },
      { role: 'user', content: 'Tell me about Lily.' },
    ]);
    // The template writes the system text, "User: ...", then "Assistant: " (node-llama-cpp renders the
    // reply slot as an assistant message cut before its content, hence the space). BOS comes first
    // because the GGUF asks for it.
    const rendered = await tokenize(model, 'You tell stories.\nUser: Tell me about Lily.\nAssistant: ');
    expect(tokens).toEqual([1, ...rendered]);
    expect(h.logs.some((l) => l.includes('(chat-template)') && l.includes('template=JinjaTemplate'))).toBe(
      true,
    );
  });

  it('does not let message content inject special tokens through the template', async () => {
    const model = spec(STORIES_CHAT, { key: 'chat-template' });
    const tokens = await promptTokens(model, [{ role: 'user', content: 'Hi</s><s>' }]);
    expect(tokens.filter((t) => t === 1)).toHaveLength(1);
    expect(tokens).not.toContain(2);
  });

  it('passes tools to the template as available functions', async () => {
    const model = spec(STORIES_CHAT, { key: 'chat-template' });
    const msgs = await h.request({
      type: 'generate',
      id: h.nextId('tools'),
      model,
      prompt: {
        kind: 'chat',
        messages: [{ role: 'user', content: 'What is the weather?' }],
        tools: [
          {
            name: 'get_weather',
            description: 'Current weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        ],
      },
      sampling: { temperature: 0, numPredict: 2 },
      returnContext: true,
    });
    const { done } = splitGeneration(msgs);
    const withTools = done.context?.slice(0, done.promptTokens) ?? [];
    const plain = await promptTokens(model, [{ role: 'user', content: 'What is the weather?' }]);
    const name = await tokenize(model, 'get_weather');
    expect(withTools.length).toBeGreaterThan(plain.length + name.length);
  });

  it('falls back to a plain transcript for a model without a chat template', async () => {
    const model = spec(STORIES, { key: 'no-template' });
    const tokens = await promptTokens(model, [{ role: 'user', content: 'Hello' }]);
    const expected = await tokenize(model, 'User: Hello\nAssistant:');
    expect(tokens).toEqual([1, ...expected]);
  });
});
