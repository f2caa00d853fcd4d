/**
 * The real server, driven by the `ollama` npm client the way applications use it: models built by
 * the test itself, imported through blob upload + /api/create, then generate, chat, tools, JSON
 * output, embeddings, model management, keep_alive, concurrency, cancellation and errors.
 */
import { writeFileSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import {
  CLIENT_MODELS,
  HOLDING_OPTIONS,
  SCRIPT_TEXT,
  cosine,
  postJson,
  startWithTinyModels,
  type CorralProcess,
  type TinyModels,
  type TinyServer,
} from '@corral/testing';

jest.setTimeout(180_000);

let server: TinyServer | undefined;
let corral: CorralProcess;
let models: TinyModels;
let ollama: Ollama;

beforeAll(async () => {
  server = await startWithTinyModels(CLIENT_MODELS);
  ({ corral, models } = server);
  ollama = new Ollama({ host: corral.url, headers: corral.authHeaders });
});

afterAll(() => server?.stop());

describe('server basics', () => {
  it('answers Ollama probes', async () => {
    const root = await fetch(corral.url + '/');
    expect(await root.text()).toBe('Ollama is running');
    expect((await fetch(corral.url + '/', { method: 'HEAD' })).status).toBe(200);
    const v = await ollama.version();
    expect(v.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('models', () => {
  it('lists and shows imported models', async () => {
    const { models: list } = await ollama.list();
    expect(list.map((m) => m.name).sort()).toEqual(['random:latest', 'scripted:latest', 'tools:latest']);
    const show = await ollama.show({ model: 'scripted' });
    expect(show.details.format).toBe('gguf');
    expect(show.details.family).toBe('llama');
    expect((show.model_info as unknown as Record<string, unknown>)['general.architecture']).toBe('llama');
    expect(show.capabilities).toContain('completion');
    expect(show.modelfile).toMatch(/^FROM /m);
  });

  it('copies and deletes, keeping blobs that are still used', async () => {
    await ollama.copy({ source: 'scripted', destination: 'scripted-copy' });
    expect((await ollama.list()).models.map((m) => m.name)).toContain('scripted-copy:latest');
    await ollama.delete({ model: 'scripted-copy' });
    expect((await ollama.list()).models.map((m) => m.name)).not.toContain('scripted-copy:latest');
    const r = await ollama.generate({ model: 'scripted', prompt: 'hi', stream: false });
    expect(r.response).toBe(SCRIPT_TEXT);
  });

  it('refuses a corrupt GGUF with a 400 and leaves nothing behind', async () => {
    const bad = join(models.dir, 'truncated.gguf');
    writeFileSync(bad, readFileSync(models.random).subarray(0, 4000));
    // Uploaded as Ollama's client does: a FROM path on the server is refused (test/security/create-paths.e2e.ts).
    const data = readFileSync(bad);
    const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
    const up = await fetch(`${corral.url}/api/blobs/${digest}`, {
      method: 'POST',
      body: data,
      headers: corral.authHeaders,
    });
    expect(up.status).toBe(201);
    const blobsBefore = readdirSync(join(corral.home, 'models/blobs')).sort();
    const res = await postJson(`${corral.url}/api/create`, {
      model: 'broken',
      files: { 'truncated.gguf': digest },
    });
    expect(res.status).toBe(400);
    expect(String(res.json?.error)).toMatch(/truncated|GGUF/i);
    expect(readdirSync(join(corral.home, 'models/blobs')).sort()).toEqual(blobsBefore);
    expect(existsSync(join(corral.home, 'models/manifests/registry.ollama.ai/library/broken'))).toBe(false);
    expect((await ollama.list()).models.map((m) => m.name)).not.toContain('broken:latest');
  });

  it('refuses an unknown digest in files', async () => {
    const res = await postJson(`${corral.url}/api/create`, {
      model: 'ghost',
      files: { 'x.gguf': 'sha256:' + '0'.repeat(64) },
    });
    expect(res.status).toBe(400);
  });
});

describe('generate and chat', () => {
  it('generates without streaming, with Ollama timings', async () => {
    const r = await ollama.generate({ model: 'scripted', prompt: 'Say hello', stream: false });
    expect(r.response).toBe(SCRIPT_TEXT);
    expect(r.done).toBe(true);
    expect(r.done_reason).toBe('stop');
    expect(r.eval_count).toBe(4);
    expect(r.prompt_eval_count).toBeGreaterThan(0);
    for (const k of ['total_duration', 'prompt_eval_duration', 'eval_duration'] as const) {
      expect(r[k]).toBeGreaterThan(0);
    }
    expect(Array.isArray(r.context)).toBe(true);
  });

  it('streams NDJSON chunks that add up to the answer', async () => {
    const stream = await ollama.generate({ model: 'scripted', prompt: 'Say hello', stream: true });
    let text = '';
    let chunks = 0;
    let last;
    for await (const part of stream) {
      text += part.response;
      chunks++;
      last = part;
    }
    expect(text).toBe(SCRIPT_TEXT);
    expect(chunks).toBeGreaterThanOrEqual(3);
    expect(last?.done).toBe(true);
    expect(last?.eval_count).toBe(4);
  });

  it('chats, streamed and not', async () => {
    const r = await ollama.chat({
      model: 'scripted',
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
    });
    expect(r.message).toMatchObject({ role: 'assistant', content: SCRIPT_TEXT });
    const s = await ollama.chat({
      model: 'scripted',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    for await (const part of s) text += part.message.content;
    expect(text).toBe(SCRIPT_TEXT);
  });

  it('honours num_predict and stop', async () => {
    const r = await ollama.generate({
      model: 'scripted',
      prompt: 'x',
      stream: false,
      options: { num_predict: 2 },
    });
    expect(r.response).toBe('Hello from');
    expect(r.done_reason).toBe('length');
    const s = await ollama.generate({
      model: 'scripted',
      prompt: 'x',
      stream: false,
      options: { stop: [' Corral'] },
    });
    expect(s.response).toBe('Hello from');
  });

  it('returns tool calls', async () => {
    const r = await ollama.chat({
      model: 'tools',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      ],
      stream: false,
    });
    expect(r.message.tool_calls).toEqual([
      { function: expect.objectContaining({ name: 'get_weather', arguments: { city: 'Paris' } }) },
    ]);
  });

  it('constrains output to a JSON schema', async () => {
    const schema = {
      type: 'object',
      properties: { color: { type: 'string', enum: ['red', 'green', 'blue'] }, ok: { type: 'boolean' } },
      required: ['color', 'ok'],
    };
    for (const seed of [1, 2, 3]) {
      const r = await ollama.generate({
        model: 'random',
        prompt: 'Pick',
        format: schema,
        stream: false,
        options: { seed, temperature: 1 },
      });
      const v = JSON.parse(r.response ?? '') as { color: string; ok: boolean };
      expect(['red', 'green', 'blue']).toContain(v.color);
      expect(typeof v.ok).toBe('boolean');
    }
    const j = await ollama.generate({
      model: 'random',
      prompt: 'Pick',
      format: 'json',
      stream: false,
      options: { num_predict: 64 },
    });
    expect(j.done_reason === 'length' || JSON.parse(j.response ?? '') !== undefined).toBe(true);
  });

  it('runs 4 concurrent streams to completion', async () => {
    const texts = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const s = await ollama.generate({ model: 'scripted', prompt: `request ${i}`, stream: true });
        let t = '';
        for await (const p of s) t += p.response;
        return t;
      }),
    );
    expect(texts).toEqual(Array(4).fill(SCRIPT_TEXT));
  });

  it('frees the sequence when the client aborts', async () => {
    // Occupy all 4 sequences with long generations, abort them, then a fifth request must run.
    const aborts = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const ac = new AbortController();
        const res = await fetch(`${corral.url}/api/generate`, {
          method: 'POST',
          headers: corral.authHeaders,
          body: JSON.stringify({
            model: 'random',
            prompt: 'go',
            options: HOLDING_OPTIONS,
          }),
          signal: ac.signal,
        });
        const reader = res.body!.getReader();
        await reader.read();
        ac.abort();
        return true;
      }),
    );
    expect(aborts).toHaveLength(4);
    const r = await ollama.generate({
      model: 'random',
      prompt: 'again',
      stream: false,
      options: { num_predict: 5 },
    });
    expect(r.eval_count).toBe(5);
  });
});

describe('embeddings', () => {
  it('embeds deterministically and normalised', async () => {
    const r = await ollama.embed({ model: 'random', input: ['the cat', 'the cat', 'a dog'] });
    expect(r.embeddings).toHaveLength(3);
    const [a, b, c] = r.embeddings as [number[], number[], number[]];
    expect(a.length).toBe(64);
    expect(cosine(a, b)).toBeCloseTo(1, 6);
    expect(cosine(a, c)).toBeLessThan(0.9999);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    const again = await ollama.embed({ model: 'random', input: 'the cat' });
    expect(again.embeddings[0]).toEqual(a);
    const legacy = await ollama.embeddings({ model: 'random', prompt: 'the cat' });
    expect(legacy.embedding).toHaveLength(64);
  });
});

describe('keep_alive and /api/ps', () => {
  it('loads, shows and unloads models', async () => {
    await ollama.generate({ model: 'scripted', prompt: 'x', keep_alive: '10m', stream: false });
    let ps = await ollama.ps();
    const entry = ps.models.find((m) => m.name === 'scripted:latest');
    expect(entry).toBeDefined();
    const ttl = new Date(entry!.expires_at).getTime() - Date.now();
    expect(ttl).toBeGreaterThan(9 * 60_000);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000 + 1000);
    const unload = await ollama.generate({ model: 'scripted', prompt: '', keep_alive: 0 });
    expect(unload.done_reason).toBe('unload');
    ps = await ollama.ps();
    expect(ps.models.map((m) => m.name)).not.toContain('scripted:latest');
    const load = await ollama.generate({ model: 'scripted', prompt: '' });
    expect(load.done_reason).toBe('load');
    expect((await ollama.ps()).models.map((m) => m.name)).toContain('scripted:latest');
  });
});

describe('errors in Ollama shape', () => {
  it('404 for an unknown model', async () => {
    await expect(ollama.generate({ model: 'nope', prompt: 'x', stream: false })).rejects.toMatchObject({
      status_code: 404,
      error: "model 'nope' not found",
    });
    const res = await postJson(`${corral.url}/api/chat`, {
      model: 'nope',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: "model 'nope' not found" });
  });

  it('400 for malformed JSON, missing fields and bad options', async () => {
    const bad = await postJson(`${corral.url}/api/generate`, '{"model": "scripted", ');
    expect(bad.status).toBe(400);
    expect(String(bad.json?.error)).toMatch(/JSON/);
    const missing = await postJson(`${corral.url}/api/generate`, { prompt: 'x' });
    expect(missing.status).toBe(400);
    expect(missing.json?.error).toBe('model is required');
    // A wrong type is named as such, never as missing (the same parser as /v1, Ollama's wording).
    const wrong = await postJson(`${corral.url}/api/generate`, { model: 'm', stream: 'yes' });
    expect(wrong.status).toBe(400);
    expect(wrong.json?.error).toBe('stream must be a boolean');
    const opt = await postJson(`${corral.url}/api/generate`, {
      model: 'scripted',
      prompt: 'x',
      options: { temprature: 1 },
    });
    expect(opt.status).toBe(400);
    expect(opt.json?.error).toBe("unknown option 'temprature'");
  });

  it('404 for unknown routes, 413 for oversized bodies', async () => {
    const r = await fetch(`${corral.url}/api/nothing`);
    expect(r.status).toBe(404);
    // The body declares 40 MiB; the server answers 413 from the Content-Length and closes, so the
    // client sends only a first chunk and reads the answer (writing all of it races the close: EPIPE).
    const big = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${corral.url}/api/generate`, {
        method: 'POST',
        headers: {
          ...corral.authHeaders,
          'content-type': 'application/json',
          'content-length': 40 * 1024 * 1024,
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('{"model":"scripted","prompt":"' + 'x'.repeat(64 * 1024));
    });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body)).toHaveProperty('error');
  });
});
