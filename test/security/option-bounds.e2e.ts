/**
 * Options and inputs that size memory or work are bounded before a job reaches a worker (and again
 * inside it): one request can no longer take the worker to gigabytes or stall other callers, and
 * invalid values are 4xx in the caller's dialect, never 500s. The worker's RSS is sampled from
 * /proc while the attacks run.
 */
import { readFileSync } from 'node:fs';
import {
  buildTinyModels,
  importModel as importWith,
  postJson as postWith,
  startCorral,
  type CorralProcess,
  type TinyModels,
} from '@corral/testing';

jest.setTimeout(300_000);

let corral: CorralProcess;
let models: TinyModels;

beforeAll(async () => {
  models = await buildTinyModels();
  corral = await startCorral();
  await importModel(corral.url, 'scripted', models.scripted);
  await importModel(corral.url, 'random', models.random);
  // Load both so the worker's baseline includes the weights and contexts.
  for (const model of ['scripted', 'random']) {
    const r = await postJson(`${corral.url}/api/generate`, { model, prompt: 'hi', stream: false });
    expect(r.status).toBe(200);
  }
});

afterAll(async () => {
  await corral?.stop();
});

/** Every request says application/json, as SDKs do (whatever the gateway makes of other types). */
const JSON_TYPE = { 'content-type': 'application/json' };
function postJson(url: string, body: unknown, method = 'POST') {
  return postWith(url, body, method, { ...corral.authHeaders, ...JSON_TYPE });
}

async function importModel(url: string, name: string, file: string) {
  // The shared helper's /api/create goes through fetch with a string body; send it as JSON.
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) =>
    realFetch(
      input,
      init?.method === 'POST' && typeof init.body === 'string'
        ? { ...init, headers: { ...(init.headers as Record<string, string>), ...JSON_TYPE } }
        : init,
    );
  try {
    await importWith(url, name, file);
  } finally {
    globalThis.fetch = realFetch;
  }
}

async function workerPid(): Promise<number> {
  const r = await postJson(`${corral.url}/admin/v1/workers`, undefined, 'GET');
  const pid = ((r.json?.workers ?? []) as { pid?: number }[]).map((w) => w.pid).find((p) => !!p);
  if (!pid) throw new Error(`no worker pid in ${r.text}`);
  return pid;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ? Number(m[1]) / 1024 : 0;
}

/** Samples the worker's RSS every 20 ms until stopped; returns the peak. */
function watchRss(pid: number): { stop: () => number } {
  let peak = rssMiB(pid);
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch {
      // the worker died: the assertions on responses report it
    }
  }, 20);
  return {
    stop: () => {
      clearInterval(t);
      return peak;
    },
  };
}

async function timedSmallRequest(): Promise<{ status: number; ms: number; text: string }> {
  const t0 = Date.now();
  const r = await postJson(`${corral.url}/api/generate`, {
    model: 'scripted',
    prompt: 'hi',
    stream: false,
    options: { num_predict: 4 },
  });
  return { status: r.status, ms: Date.now() - t0, text: r.text };
}

function ollamaError(r: { json?: Record<string, unknown> }): string {
  const e = r.json?.error;
  return typeof e === 'string' ? e : '';
}

function openaiError(r: { json?: Record<string, unknown> }) {
  return (r.json?.error ?? {}) as { message?: string; type?: string; code?: string; param?: string };
}

describe('repeat_last_n: 1e9', () => {
  it('neither grows the worker nor stalls a concurrent small request', async () => {
    const pid = await workerPid();
    const baseline = rssMiB(pid);
    const watch = watchRss(pid);
    const attack = postJson(`${corral.url}/api/generate`, {
      model: 'random',
      prompt: 'once upon a time',
      stream: false,
      options: { repeat_last_n: 1e9, num_predict: 8 },
    });
    await new Promise((r) => setTimeout(r, 150));
    const small = await timedSmallRequest();
    const a = await attack;
    const peak = watch.stop();
    console.log(
      `repeat_last_n 1e9: attack ${a.status}, worker RSS ${baseline.toFixed(0)} → peak ${peak.toFixed(0)} MiB; ` +
        `concurrent 4-token request ${small.status} in ${small.ms} ms`,
    );
    expect(small.status).toBe(200);
    // Past any context Corral serves: refused before dispatch (values up to that are clamped, below).
    expect(a.status).toBe(400);
    expect(ollamaError(a)).toBe('options.repeat_last_n must be between -1 and 262144');
    expect(peak).toBeLessThan(baseline + 300);
    expect(small.ms).toBeLessThan(3000);
  });
});

describe('repeat_last_n past the context', () => {
  it('is clamped to num_ctx (as llama.cpp and Ollama do): 200, worker stays in budget', async () => {
    const pid = await workerPid();
    const baseline = rssMiB(pid);
    const watch = watchRss(pid);
    const r = await postJson(`${corral.url}/api/generate`, {
      model: 'random',
      prompt: 'once upon a time',
      stream: false,
      options: { repeat_last_n: 200_000, num_keep: 200_000, num_predict: 8 },
    });
    const peak = watch.stop();
    expect(r.status).toBe(200);
    expect(peak).toBeLessThan(baseline + 300);
  });

  it('out of range is a 400 naming the option and its bounds', async () => {
    const r = await postJson(`${corral.url}/api/generate`, {
      model: 'random',
      prompt: 'x',
      stream: false,
      options: { repeat_last_n: -7 },
    });
    expect(r.status).toBe(400);
    expect(ollamaError(r)).toBe('options.repeat_last_n must be between -1 and 262144');
  });
});

describe('invalid load options are 4xx, never 500', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['num_ctx -1', { num_ctx: -1 }, /^options\.num_ctx must be between 1 and \d+$/],
    ['num_batch 0 with a huge num_thread', { num_batch: 0, num_thread: 1e9 }, /^options\.num_batch must be/],
    ['a huge num_thread', { num_thread: 1e9 }, /^options\.num_thread must be between 0 and 1024$/],
    ['num_predict -5', { num_predict: -5 }, /^options\.num_predict must be between -2 and \d+$/],
    ['__proto__', JSON.parse('{"__proto__": {"num_ctx": 1}}'), /unknown option '__proto__'/],
    ['constructor', { constructor: 1 }, /unknown option 'constructor'/],
  ];
  it.each(cases)('%s (Ollama)', async (_name, options, message) => {
    const r = await postJson(
      `${corral.url}/api/chat`,
      `{"model":"random","stream":false,"messages":[{"role":"user","content":"hi"}],"options":${JSON.stringify(options).replace('"___proto___"', '"__proto__"')}}`,
    );
    expect(r.status).toBe(400);
    expect(ollamaError(r)).toMatch(message);
    expect(r.text).not.toMatch(/sampling|numPredict|"path"/);
  });

  it('__proto__ sent as raw JSON is refused too', async () => {
    const r = await postJson(
      `${corral.url}/api/generate`,
      '{"model":"random","prompt":"x","stream":false,"options":{"__proto__":{"num_ctx":1}}}',
    );
    expect(r.status).toBe(400);
    expect(ollamaError(r)).toBe("unknown option '__proto__'");
  });

  it('a num_batch past num_ctx is clamped and answers', async () => {
    const r = await postJson(`${corral.url}/api/generate`, {
      model: 'scripted',
      prompt: 'hi',
      stream: false,
      options: { num_batch: 65_536, num_ctx: 512, num_thread: 1024 },
    });
    expect(r.status).toBe(200);
  });
});

describe('field names as the client sent them', () => {
  it('wrong type is not "required" (Ollama)', async () => {
    const a = await postJson(`${corral.url}/api/generate`, { model: 'random', prompt: 123 });
    expect(a.status).toBe(400);
    expect(ollamaError(a)).toBe('prompt must be a string');
    const b = await postJson(`${corral.url}/api/generate`, { model: 'random', prompt: 'x', stream: 'yes' });
    expect(ollamaError(b)).toBe('stream must be a boolean');
    const c = await postJson(`${corral.url}/api/generate`, { prompt: 'x' });
    expect(ollamaError(c)).toBe('model is required');
  });

  it('OpenAI errors carry message, type, code and param', async () => {
    const r = await postJson(`${corral.url}/v1/chat/completions`, {
      model: 'random',
      messages: [{ role: 'user', content: 'hi' }],
      stream: 'yes',
    });
    expect(r.status).toBe(400);
    const e = openaiError(r);
    expect(e.message).toBe("'stream' must be a boolean");
    expect(e.param).toBe('stream');
    expect(e.type).toBe('invalid_request_error');
  });
});

/** `{"type":"object","properties":{"a":{...}}}` nested `depth` times, built as text (no recursion). */
function deepSchema(depth: number): string {
  return '{"type":"object","properties":{"a":'.repeat(depth) + '{"type":"string"}' + '}}'.repeat(depth);
}

describe('deep JSON schemas are a 400 before any conversion', () => {
  it('Ollama format 20,000 levels deep', async () => {
    const r = await postJson(
      `${corral.url}/api/chat`,
      `{"model":"random","stream":false,"messages":[{"role":"user","content":"hi"}],"format":${deepSchema(20_000)}}`,
    );
    expect(r.status).toBe(400);
    expect(ollamaError(r)).toBe('format is nested more than 64 levels deep');
  });

  it('Ollama tool parameters 5,000 levels deep', async () => {
    const r = await postJson(
      `${corral.url}/api/chat`,
      `{"model":"random","stream":false,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${deepSchema(5_000)}}}]}`,
    );
    expect(r.status).toBe(400);
    expect(ollamaError(r)).toBe('tools[0].function.parameters is nested more than 64 levels deep');
  });

  it('OpenAI response_format 20,000 levels deep', async () => {
    const r = await postJson(
      `${corral.url}/v1/chat/completions`,
      `{"model":"random","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":${deepSchema(20_000)}}}}`,
    );
    expect(r.status).toBe(400);
    const e = openaiError(r);
    expect(e.message).toBe("'response_format.json_schema.schema' is nested more than 64 levels deep");
    expect(e.param).toBe('response_format.json_schema.schema');
    expect(e.type).toBe('invalid_request_error');
  });

  it('OpenAI tool parameters 5,000 levels deep, forced', async () => {
    const r = await postJson(
      `${corral.url}/v1/chat/completions`,
      `{"model":"random","messages":[{"role":"user","content":"hi"}],"tool_choice":"required","tools":[{"type":"function","function":{"name":"f","parameters":${deepSchema(5_000)}}}]}`,
    );
    expect(r.status).toBe(400);
    expect(openaiError(r).param).toBe('tools[0].function.parameters');
  });
});

describe('embedding inputs', () => {
  const many = Array.from({ length: 100_000 }, (_, i) => `input ${i}`);
  it('100,000 inputs are a 400 at once (Ollama /api/embed)', async () => {
    const t0 = Date.now();
    const r = await postJson(`${corral.url}/api/embed`, { model: 'random', input: many });
    expect(r.status).toBe(400);
    expect(ollamaError(r)).toBe('input must have at most 2048 items');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('100,000 inputs are a 400 at once (OpenAI /v1/embeddings)', async () => {
    const t0 = Date.now();
    const r = await postJson(`${corral.url}/v1/embeddings`, { model: 'random', input: many });
    expect(r.status).toBe(400);
    expect(openaiError(r).message).toBe("'input' must have at most 2048 items");
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('fuzzed option values', () => {
  const NAMES = [
    'num_keep',
    'seed',
    'num_predict',
    'top_k',
    'top_p',
    'min_p',
    'typical_p',
    'repeat_last_n',
    'temperature',
    'repeat_penalty',
    'presence_penalty',
    'frequency_penalty',
    'penalize_newline',
    'stop',
    'mirostat',
    'mirostat_tau',
    'mirostat_eta',
    'tfs_z',
    'num_ctx',
    'num_batch',
    'num_gpu',
    'main_gpu',
    'use_mmap',
    'use_mlock',
    'num_thread',
    'low_vram',
    'f16_kv',
    'logits_all',
    'vocab_only',
    'numa',
  ];
  const VALUES: unknown[] = [
    -1,
    -2,
    -1e9,
    0,
    1,
    2,
    0.5,
    1e9,
    2 ** 31,
    2 ** 53,
    1e300,
    -1e300,
    1.5,
    'NaN',
    'Infinity',
    '1',
    true,
    false,
    null,
    -1,
    262_144,
    100_000,
    4_096,
    2_047,
    [],
    {},
    [1e9],
    'x'.repeat(5000),
    Array(100).fill('s'),
    -0.0001,
    7e5,
    65_536,
    262_144,
  ];
  // Deterministic: a failure can be replayed.
  let state = 12345;
  const rand = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };

  it('~200 requests: only 200s or 4xx with a message, worker within budget, prompt afterwards', async () => {
    const pid = await workerPid();
    const baseline = rssMiB(pid);
    const watch = watchRss(pid);
    const seen = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const options: Record<string, unknown> = {};
      for (let k = 1 + rand(3); k > 0; k--) options[NAMES[rand(NAMES.length)]!] = VALUES[rand(VALUES.length)];
      // Short generations: the fuzz is about option handling, not generation length.
      if (!('num_predict' in options)) options.num_predict = 4;
      const t0 = Date.now();
      const r = await postJson(`${corral.url}/api/generate`, {
        model: i % 2 ? 'random' : 'scripted',
        prompt: 'hello',
        stream: false,
        options,
      });
      seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
      const ctx = `${JSON.stringify(options).slice(0, 300)} → ${r.status} ${r.text.slice(0, 300)}`;
      if (r.status !== 200) {
        expect([ctx, r.status >= 400 && r.status < 500]).toEqual([ctx, true]);
        expect([ctx, ollamaError(r).length > 0]).toEqual([ctx, true]);
      }
      expect([ctx, Date.now() - t0 < 30_000]).toEqual([ctx, true]);
    }
    const peak = watch.stop();
    console.log(
      `fuzz: statuses ${JSON.stringify([...seen])}; worker RSS ${baseline.toFixed(0)} → peak ${peak.toFixed(0)} MiB`,
    );
    expect(peak).toBeLessThan(baseline + 300);
    const after = await timedSmallRequest();
    expect(after.status).toBe(200);
    expect(after.ms).toBeLessThan(5000);
  });
});
