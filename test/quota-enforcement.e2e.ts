/**
 * Quotas on real inference traffic (built server, real worker, tiny models, one sequence):
 * fair queuing across teams and keys under a flood, exact budgets under concurrent requests,
 * refusals in both dialects with their headers, policy changes that apply on the next request,
 * and the usage those requests leave behind (/admin/v1/usage, `corral usage`).
 */
import {
  HOLDING_OPTIONS,
  buildTinyModels,
  importModel,
  postJson,
  runCli,
  startCorral,
  type CorralProcess,
  type TinyModels,
} from '@corral/testing';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

jest.setTimeout(300_000);

let corral: CorralProcess;
let models: TinyModels;

beforeAll(async () => {
  models = await buildTinyModels();
  // 'random' here is the long-context model: the stream that holds the only sequence must outlast
  // the queueing below on a loaded machine.
  corral = await startCorral({
    OLLAMA_NUM_PARALLEL: '1',
    OLLAMA_MAX_QUEUE: '512',
    OLLAMA_CONTEXT_LENGTH: '65536',
  });
  await importModel(corral.url, 'scripted', models.scripted);
  await importModel(corral.url, 'random', models.long);
});
afterAll(async () => {
  await corral?.stop();
  if (models) rmSync(models.dir, { recursive: true, force: true });
});

const admin = (path: string, body?: unknown, method = 'POST') => postJson(corral.url + path, body, method);
const adminGet = async (path: string) => {
  const r = await fetch(corral.url + path, { headers: corral.authHeaders });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};

async function team(name: string): Promise<string> {
  const r = await admin('/admin/v1/teams', { name });
  if (r.status !== 201) throw new Error(`team: ${r.status} ${r.text}`);
  return String(r.json!.id);
}

async function key(teamId: string, name: string): Promise<{ id: string; key: string }> {
  const r = await admin('/admin/v1/keys', { team_id: teamId, name, scopes: ['inference', 'embeddings'] });
  if (r.status !== 201) throw new Error(`key: ${r.status} ${r.text}`);
  return r.json as { id: string; key: string };
}

const setQuota = async (kind: 'teams' | 'keys', id: string, policy: Record<string, unknown>) => {
  const r = await admin(`/admin/v1/${kind}/${id}/quota`, policy, 'PUT');
  if (r.status !== 200) throw new Error(`quota: ${r.status} ${r.text}`);
};

const quotaUsage = async (teamId: string) =>
  (await adminGet(`/admin/v1/teams/${teamId}/quota`)).json.usage as Record<string, number>;

const as = (k: { key: string }) => ({ Authorization: `Bearer ${k.key}` });

const generate = (k: { key: string }, body: Record<string, unknown>) =>
  postJson(`${corral.url}/api/generate`, { model: 'scripted', stream: false, ...body }, 'POST', as(k));

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await sleep(50);
  }
}

describe('fair queuing through the real scheduler', () => {
  it("serves another team's single request (and a team's interactive key) after a few of a flooding team's requests, not after all", async () => {
    const [holderTeam, teamA, teamB] = [await team('holder'), await team('flood-a'), await team('single-b')];
    const holderKey = await key(holderTeam, 'holder');
    const batch = await key(teamA, 'a-batch');
    const interactive = await key(teamA, 'a-interactive');
    const b = await key(teamB, 'b');
    // Concurrency limits far above the load: only so the admin API shows who is admitted (queued).
    for (const t of [holderTeam, teamA, teamB]) await setQuota('teams', t, { concurrentRequests: 1000 });
    await setQuota('keys', batch.id, { priority: 'batch' });

    // One stream holds the only sequence until we let it go; everything else queues behind it.
    const holder = new AbortController();
    const held = await fetch(`${corral.url}/api/generate`, {
      method: 'POST',
      headers: as(holderKey),
      signal: holder.signal,
      body: JSON.stringify({ model: 'random', prompt: 'hold', options: HOLDING_OPTIONS }),
    });
    expect(held.status).toBe(200);
    await held.body!.getReader().read();

    const order: string[] = [];
    const send = (k: { key: string }, label: string) =>
      fetch(`${corral.url}/api/generate`, {
        method: 'POST',
        headers: as(k),
        body: JSON.stringify({ model: 'random', prompt: label, stream: false, options: { num_predict: 2 } }),
      }).then(async (r) => {
        order.push(label);
        return { label, status: r.status, body: await r.text() };
      });
    const flood = Array.from({ length: 30 }, (_, i) => send(batch, `a${i}`));
    await until(
      'the flood to queue',
      () => quotaUsage(teamA),
      (u) => u.concurrent === 30,
    );
    const late = [send(interactive, 'a-interactive')];
    await until(
      'the interactive request to queue',
      () => quotaUsage(teamA),
      (u) => u.concurrent === 31,
    );
    late.push(send(b, 'b'));
    await until(
      "team B's request to queue",
      () => quotaUsage(teamB),
      (u) => u.concurrent === 1,
    );

    holder.abort();
    const results = await Promise.all([...flood, ...late]);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(order).toHaveLength(32);
    // Served by fair share: B's one request after at most a few of A's 30 (not after all of them),
    // and A's interactive key before the batch key's backlog.
    expect(order.indexOf('b')).toBeLessThanOrEqual(3);
    expect(order.indexOf('a-interactive')).toBeLessThanOrEqual(3);

    // The holder's client went away: its usage record says so, with the tokens it did produce.
    const range = `from=2026-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`;
    const usage = await until(
      "the holder's usage record",
      async () =>
        (await adminGet(`/admin/v1/usage?${range}&teamId=${holderTeam}&groupBy=team&granularity=total`)).json
          .data as Record<string, number>[],
      (d) => d[0]?.requests === 1,
    );
    expect(usage[0]).toMatchObject({ requests: 1, errors: 1 });
    expect(usage[0]!.completionTokens).toBeGreaterThan(0);
    expect(await quotaUsage(holderTeam)).toMatchObject({ concurrent: 0 });
  });
});

describe('budgets under concurrent requests', () => {
  it('never admits more than the budget, refuses in the caller dialect with headers, and accounts every token', async () => {
    const t = await team('budget');
    const k = await key(t, 'budget-key');
    const budget = 240;
    await setQuota('teams', t, { dailyTokens: budget, requestsPerMinute: 100000 });

    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        generate(k, { prompt: `request ${i}`, options: { num_predict: 8 } }),
      ),
    );
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status !== 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    const used = (r: (typeof replies)[number]) =>
      Number(r.json!.prompt_eval_count) + Number(r.json!.eval_count);
    const admittedCost = ok.reduce((s, r) => s + used(r), 0);
    expect(admittedCost).toBeLessThanOrEqual(budget);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(String(r.json!.error)).toMatch(
        /^your team's daily token budget \(dailyTokens = 240\) is used up until \d{4}-\d\d-\d\dT00:00:00\.000Z$/,
      );
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.headers.get('x-ratelimit-limit-requests')).toBe('100000');
    }
    for (const r of ok) expect(r.headers.get('x-ratelimit-limit-requests')).toBe('100000');
    // Settled counters hold exactly what the admitted requests used (refusals cost nothing).
    await until(
      'settlement',
      () => quotaUsage(t),
      (u) => u.concurrent === 0,
    );
    expect((await quotaUsage(t)).dailyTokens).toBe(admittedCost);

    // Usage records (written through the durable buffer) add up to the same, refusals included.
    const range = `from=2026-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`;
    const usage = await until(
      'usage records',
      async () =>
        (await adminGet(`/admin/v1/usage?${range}&teamId=${t}&groupBy=team&granularity=total`)).json
          .data as Record<string, number>[],
      (d) => d[0]?.requests === 40,
    );
    expect(usage[0]).toMatchObject({
      requests: 40,
      errors: refused.length,
      totalTokens: admittedCost,
    });

    // A policy change applies to the very next request, without restart.
    await setQuota('teams', t, { requestsPerMinute: 100000 });
    expect((await generate(k, { prompt: 'again' })).status).toBe(200);
    await setQuota('teams', t, { allowedModels: ['random'] });
    const notAllowed = await generate(k, { prompt: 'again' });
    expect(notAllowed.status).toBe(403);
    expect(notAllowed.json).toEqual({ error: "model 'scripted:latest' is not allowed by your quota policy" });
    const oa = await postJson(
      `${corral.url}/v1/chat/completions`,
      { model: 'scripted', messages: [{ role: 'user', content: 'hi' }] },
      'POST',
      as(k),
    );
    expect(oa.status).toBe(403);
    expect(oa.json).toMatchObject({
      error: { code: 'forbidden', message: expect.stringMatching(/not allowed/) },
    });
    // A prompt that alone exceeds the per-request limit: 400 before anything is reserved.
    await setQuota('teams', t, { maxTokensPerRequest: 5, dailyTokens: 1000000 });
    const before = await quotaUsage(t);
    const big = await generate(k, { prompt: 'a prompt that is certainly longer than five tokens, surely' });
    expect(big.status).toBe(400);
    expect(String(big.json!.error)).toMatch(
      /more than the 5 tokens a request may use \(maxTokensPerRequest\)/,
    );
    expect((await quotaUsage(t)).dailyTokens).toBe(before.dailyTokens);
    // ... and a completion budget larger than the limit is capped, not refused.
    const capped = await generate(k, { prompt: 'x', raw: true, options: { num_predict: 100 } });
    expect(capped.status).toBe(200);
    expect(Number(capped.json!.prompt_eval_count) + Number(capped.json!.eval_count)).toBeLessThanOrEqual(5);
  });

  it('answers 429 in the OpenAI dialect with Retry-After and x-ratelimit headers', async () => {
    const t = await team('openai-rpm');
    const k = await key(t, 'openai-key');
    await setQuota('teams', t, { requestsPerMinute: 2 });
    const call = () =>
      postJson(
        `${corral.url}/v1/chat/completions`,
        { model: 'scripted', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 },
        'POST',
        as(k),
      );
    const first = await call();
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect((await call()).status).toBe(200);
    const third = await call();
    expect(third.status).toBe(429);
    expect(third.json).toMatchObject({
      error: {
        type: 'rate_limit_error',
        code: 'rate_limited',
        message: expect.stringMatching(
          /^rate limit reached: your team's requests per minute \(requestsPerMinute = 2\)/,
        ),
      },
    });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(third.headers.get('x-ratelimit-remaining-requests')).toBe('0');

    // Streams carry the headers before the first byte; embeddings are metered too.
    await setQuota('teams', t, { requestsPerMinute: 1000, tokensPerMinute: 100000 });
    const stream = await fetch(`${corral.url}/v1/chat/completions`, {
      method: 'POST',
      headers: as(k),
      body: JSON.stringify({ model: 'scripted', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    await stream.text();
    for (const [path, body] of [
      ['/api/embed', { model: 'random', input: ['one', 'two'] }],
      ['/v1/embeddings', { model: 'random', input: 'three' }],
    ] as const) {
      const r = await postJson(corral.url + path, body, 'POST', as(k));
      expect(r.status).toBe(200);
      expect(r.headers.get('x-ratelimit-limit-requests')).toBe('1000');
    }
  });
});

describe('usage after real traffic', () => {
  it('shows in /admin/v1/usage and corral usage, whose CSV is the server export', async () => {
    const t = await team('usage-traffic');
    const k = await key(t, 'usage-key');
    for (let i = 0; i < 3; i++) expect((await generate(k, { prompt: `u${i}` })).status).toBe(200);
    const range = `from=2026-01-01T00:00:00Z&to=2100-01-01T00:00:00Z`;
    const rows = await until(
      'usage rows',
      async () =>
        (await adminGet(`/admin/v1/usage?${range}&teamId=${t}&groupBy=key,model&granularity=total`)).json
          .data as Record<string, unknown>[],
      (d) => d[0]?.requests === 3,
    );
    expect(rows).toEqual([
      expect.objectContaining({ keyId: k.id, model: 'scripted:latest', requests: 3, errors: 0 }),
    ]);
    expect(Number(rows[0]!.completionTokens)).toBeGreaterThan(0);

    const env = { CORRAL_HOST: corral.url, CORRAL_HOME: corral.home };
    const args = ['usage', '--team', t, '--group-by', 'key,model', '--granularity', 'total'];
    args.push('--from', '2026-01-01T00:00:00Z', '--to', '2100-01-01T00:00:00Z');
    const table = await runCli(args, env);
    expect({ code: table.code, stderr: table.stderr }).toEqual({ code: 0, stderr: '' });
    expect(table.stdout).toMatch(new RegExp(`${k.id}\\s+scripted:latest\\s+3\\s+0\\s`));
    const csv = await runCli([...args, '--csv'], env);
    expect(csv.code).toBe(0);
    const server = await fetch(
      `${corral.url}/admin/v1/usage?${range}&teamId=${t}&groupBy=key,model&granularity=total&format=csv`,
      {
        headers: corral.authHeaders,
      },
    );
    expect(csv.stdout).toBe(await server.text());
  });
});

describe('cluster mode (counters in Redis)', () => {
  let cluster: CorralProcess;
  beforeAll(async () => {
    cluster = await startCorral({
      REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
      OLLAMA_NUM_PARALLEL: '2',
    });
    await importModel(cluster.url, 'scripted', models.scripted);
  });
  afterAll(() => cluster?.stop());

  it('never admits more than a daily budget under concurrent requests, and the Redis counter holds what they used', async () => {
    const post = (path: string, body: unknown, method = 'POST', headers?: Record<string, string>) =>
      postJson(cluster.url + path, body, method, headers);
    const t = String((await post('/admin/v1/teams', { name: 'cluster-budget' })).json!.id);
    const k = (await post('/admin/v1/keys', { team_id: t, name: 'k', scopes: ['inference'] })).json as {
      key: string;
    };
    expect((await post(`/admin/v1/teams/${t}/quota`, { dailyTokens: 200 }, 'PUT')).status).toBe(200);
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        post(
          '/api/generate',
          { model: 'scripted', prompt: `c${i}`, stream: false, options: { num_predict: 8 } },
          'POST',
          as(k),
        ),
      ),
    );
    const ok = replies.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThan(0);
    expect(replies.filter((r) => r.status !== 200).every((r) => r.status === 429)).toBe(true);
    const cost = ok.reduce((s, r) => s + Number(r.json!.prompt_eval_count) + Number(r.json!.eval_count), 0);
    expect(cost).toBeLessThanOrEqual(200);
    const usage = await until(
      'settlement',
      async () => {
        const r = await fetch(`${cluster.url}/admin/v1/teams/${t}/quota`, { headers: cluster.authHeaders });
        return ((await r.json()) as { usage: Record<string, number> }).usage;
      },
      (u) => u.concurrent === 0,
    );
    expect(usage.dailyTokens).toBe(cost);
  });
});
