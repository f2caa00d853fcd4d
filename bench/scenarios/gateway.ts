/** Scenario 5: gateway-only throughput of authenticated GET /v1/models and /api/tags vs bare Fastify. */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { interleave, type BenchContext, type Row, type ScenarioResult } from '../support/context';
import { jsonRequest } from '../support/http';
import { fmt, ratio, summarize } from '../support/stats';

const DURATION_S = 3;
const CONNECTIONS = 10;

interface Load {
  rps: number;
  p99: number;
  non2xx: number;
}

async function cannon(url: string, headers: Record<string, string>): Promise<Load> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, headers });
  return { rps: r.requests.average, p99: r.latency.p99, non2xx: r.non2xx + r.errors };
}

export async function gatewayScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { corral } = ctx;
  const models = await jsonRequest('GET', `${corral.url}/v1/models`, undefined, corral.auth);
  const tags = await jsonRequest('GET', `${corral.url}/api/tags`, undefined, corral.auth);
  const child = fork(join(__dirname, '../support/bare-fastify.js'), [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`bare Fastify exited (${code})`)));
      child.send({ models, tags });
    });
    const bare = `http://127.0.0.1:${port}`;
    const res = await interleave(ctx.reps(2), {
      corralModels: () => cannon(`${corral.url}/v1/models`, corral.auth),
      bareModels: () => cannon(`${bare}/v1/models`, {}),
      corralTags: () => cannon(`${corral.url}/api/tags`, corral.auth),
      bareTags: () => cannon(`${bare}/api/tags`, {}),
    });
    const rows: Row[] = [];
    const row = (route: string, contender: string, loads: Load[], base: Load[]): Row => {
      const s = summarize(loads.map((l) => l.rps));
      return {
        route,
        contender,
        'req/s median (min–max)': `${fmt(s.median, 0)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`,
        'p99 latency ms': fmt(summarize(loads.map((l) => l.p99)).median, 1),
        'non-2xx/errors': loads.reduce((a, l) => a + l.non2xx, 0),
        'vs bare Fastify': ratio(s.median, summarize(base.map((l) => l.rps)).median),
      };
    };
    const authNote = Object.keys(corral.auth).length ? 'Bearer admin key' : 'no key (this build has no auth)';
    rows.push(
      row('GET /v1/models', `Corral (${authNote})`, res.corralModels, res.bareModels),
      row('GET /v1/models', 'bare Fastify, same JSON', res.bareModels, res.bareModels),
      row('GET /api/tags', `Corral (${authNote})`, res.corralTags, res.bareTags),
      row('GET /api/tags', 'bare Fastify, same JSON', res.bareTags, res.bareTags),
    );
    return {
      id: 'gateway',
      title: '5. Gateway-only throughput',
      bar: 'report the ratio',
      verdict: 'n/a',
      notes: [
        `autocannon in the harness process, ${CONNECTIONS} connections, ${DURATION_S} s per run, runs interleaved; ` +
          'the load generator shares the 2 cores with the server under test.',
      ],
      rows,
    };
  } finally {
    child.kill('SIGTERM');
  }
}
