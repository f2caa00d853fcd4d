/**
 * What the quota check adds to a real HTTP request: `/api/generate` (num_predict 1, raw prompt) on
 * the generated scripted model, sent one at a time with a team's API key, against two real
 * servers: embedded (counters in memory) and cluster (REDIS_URL: counters in Redis). On each
 * server one team has no quota policy (quotas off: no count, no reservation) and one has every
 * limit set high enough never to refuse (prompt counted with the model's tokenizer, admit with all
 * five counters of the team and the key, settle). Modes are interleaved request by request so drift on
 * a shared machine hits each alike; the table reports p50/p99 per mode and what the check adds
 * over quotas off on the same server.
 *
 * Standalone: `npm run build && node dist/bench/quota-request.js`. Knobs: CORRAL_BENCH_QUOTA_REQ_N
 * × CORRAL_BENCH_QUOTA_REQ_ROUNDS requests per mode (default 200 × 5), REDIS_URL
 * (default redis://127.0.0.1:6379; the Redis server is skipped with a note when it is unreachable).
 */
import { Redis } from 'ioredis';
import { importModel, startCorral, type CorralServer } from './support/corral';
import { closeAgent, jsonRequest } from './support/http';
import { overheadModel } from './support/models';
import { runStandalone } from './support/standalone';
import { quantile } from './support/stats';

type Row = Record<string, string | number>;

const N = Number(process.env.CORRAL_BENCH_QUOTA_REQ_N ?? 200);
const ROUNDS = Number(process.env.CORRAL_BENCH_QUOTA_REQ_ROUNDS ?? 5);
const BIG = 1e12;

interface Mode {
  name: string;
  server: string;
  url: string;
  auth: Record<string, string>;
  samples: number[];
}

async function redisReachable(url: string): Promise<boolean> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Two teams with a key each on one server: one without a policy, one with every limit set. */
async function modesOn(s: CorralServer, server: string, modelName: string): Promise<Mode[]> {
  const admin = (path: string, body: unknown, method = 'POST') =>
    jsonRequest<Record<string, unknown>>(method, s.url + path, body, s.auth);
  const out: Mode[] = [];
  for (const [name, limited] of [
    ['quotas off', false],
    ['quotas on', true],
  ] as const) {
    const team = await admin('/admin/v1/teams', { name: `bench-${limited ? 'on' : 'off'}` });
    const key = await admin('/admin/v1/keys', { team_id: team.id, name: 'bench', scopes: ['inference'] });
    if (limited) {
      await admin(
        `/admin/v1/teams/${String(team.id)}/quota`,
        {
          requestsPerMinute: BIG,
          tokensPerMinute: BIG,
          concurrentRequests: 1e6,
          dailyTokens: BIG,
          monthlyTokens: BIG,
          maxTokensPerRequest: 1e6,
        },
        'PUT',
      );
      await admin(
        `/admin/v1/keys/${String(key.id)}/quota`,
        { requestsPerMinute: BIG, tokensPerMinute: BIG, dailyTokens: BIG },
        'PUT',
      );
    }
    const auth = { authorization: `Bearer ${String(key.key)}` };
    // Warm-up: model load, policy cache, JIT, Redis scripts.
    for (let i = 0; i < 20; i++) await generate(s.url, auth, modelName);
    out.push({ name, server, url: s.url, auth, samples: [] });
  }
  return out;
}

async function generate(url: string, auth: Record<string, string>, model: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await jsonRequest(
    'POST',
    `${url}/api/generate`,
    {
      model,
      prompt: 'quota bench',
      raw: true,
      stream: false,
      options: { num_predict: 1 },
    },
    auth,
  );
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export async function run(): Promise<{ title: string; rows: Row[]; notes?: string[] }> {
  const model = await overheadModel();
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const servers: [string, CorralServer][] = [];
  const notes: string[] = [];
  try {
    const env = { OLLAMA_NUM_PARALLEL: '1', CORRAL_THREADS: '1' };
    servers.push(['embedded (memory)', await startCorral({ ...env, REDIS_URL: '' })]);
    if (await redisReachable(redisUrl))
      servers.push(['cluster (Redis)', await startCorral({ ...env, REDIS_URL: redisUrl })]);
    else notes.push(`cluster (Redis) skipped: ${redisUrl} unreachable`);
    const modes: Mode[] = [];
    for (const [label, s] of servers) {
      await importModel(s, model.name, model.path);
      modes.push(...(await modesOn(s, label, model.name)));
    }
    // Interleaved request by request (starting with a different mode each time), so drift and
    // bursts of load from other processes hit every mode alike.
    for (let k = 0; k < N * ROUNDS; k++)
      for (let j = 0; j < modes.length; j++) {
        const m = modes[(k + j) % modes.length]!;
        m.samples.push(await generate(m.url, m.auth, model.name));
      }
    const rows: Row[] = [];
    for (const m of modes) {
      const off = modes.find((o) => o.server === m.server && o.name === 'quotas off')!;
      const p50 = quantile(m.samples, 0.5);
      const p99 = quantile(m.samples, 0.99);
      rows.push({
        server: m.server,
        mode: m.name,
        requests: m.samples.length,
        'p50 (ms)': p50.toFixed(2),
        'p99 (ms)': p99.toFixed(2),
        'added p50 (ms)': m === off ? '-' : (p50 - quantile(off.samples, 0.5)).toFixed(2),
        'added p99 (ms)': m === off ? '-' : (p99 - quantile(off.samples, 0.99)).toFixed(2),
      });
    }
    return {
      title: `Quota check per HTTP request (/api/generate, num_predict 1, ${model.label}; ${N} × ${ROUNDS} per mode, one at a time)`,
      rows,
      notes,
    };
  } finally {
    closeAgent();
    for (const [, s] of servers) await s.stop();
  }
}

runStandalone(module, run);
