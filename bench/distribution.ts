/**
 * Pull throughput between two Corral nodes on loopback: node A serves a ~110 MB GGUF over /v2;
 * two B nodes pull it with /api/pull, one with CORRAL_PULL_CONCURRENCY=1, one with 4 (8 MiB parts),
 * interleaved, the model deleted on B after each run so every run fetches, verifies and links the
 * whole blob. Reports the median MB/s of 3 runs each (whole pull: manifest, ranged download, sha256
 * verification, link, manifest write).
 *
 * Run alone: `npm run build && node -e "require('./dist/bench/distribution.js').run().then(r => console.table(r.rows))"`.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyLlama } from '@corral/registry';
import { importModel, startCorral, type CorralServer } from './support/corral';

type Row = Record<string, string | number>;
const MB = 1024 * 1024;
const RUNS = Number(process.env.CORRAL_BENCH_QUICK === '1' ? 1 : 3);

async function pullOnce(b: CorralServer, model: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${b.url}/api/pull`, {
    method: 'POST',
    headers: { ...b.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: false }),
  });
  const body = await res.text();
  const seconds = (performance.now() - t0) / 1000;
  if (res.status !== 200 || !body.includes('success')) throw new Error(`pull failed: ${res.status} ${body}`);
  const del = await fetch(`${b.url}/api/delete`, {
    method: 'DELETE',
    headers: { ...b.auth, 'content-type': 'application/json' },
    body: JSON.stringify({ model }),
  });
  if (del.status !== 200) throw new Error(`delete failed: ${del.status} ${await del.text()}`);
  return seconds;
}

export async function run(): Promise<{ title: string; rows: Row[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'corral-bench-dist-'));
  const servers: CorralServer[] = [];
  try {
    const file = join(dir, 'big.gguf');
    await buildTinyLlama(file, { name: 'bench-pull', embeddingLength: 1024, blockCount: 3 });
    const size = (await stat(file)).size;
    const a = await startCorral({ CORRAL_WORKERS: '1' });
    servers.push(a);
    await importModel(a, 'big', file);
    const hostA = new URL(a.url).host;
    const key = a.auth.authorization?.replace(/^Bearer /, '') ?? '';
    const allow = `http://${key}@${hostA}`;
    const contenders: [number, CorralServer][] = [];
    for (const concurrency of [1, 4]) {
      const b = await startCorral({
        CORRAL_WORKERS: '1',
        CORRAL_REGISTRY_ALLOW: allow,
        CORRAL_PULL_CONCURRENCY: String(concurrency),
        CORRAL_PULL_PART_SIZE: String(8 * MB),
      });
      servers.push(b);
      contenders.push([concurrency, b]);
    }
    const times = new Map<number, number[]>(contenders.map(([c]) => [c, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const [c, b] of contenders) times.get(c)!.push(await pullOnce(b, `${hostA}/library/big`));
    }
    const rows: Row[] = contenders.map(([c]) => {
      const t = [...times.get(c)!].sort((x, y) => x - y);
      const median = t[Math.floor(t.length / 2)]!;
      return {
        'parallel parts': c,
        'part size': '8 MiB',
        'blob MB': +(size / MB).toFixed(1),
        runs: t.length,
        'median s': +median.toFixed(2),
        'MB/s': +(size / MB / median).toFixed(1),
      };
    });
    return {
      title: 'Pull throughput between two Corral nodes (loopback, /api/pull, verified)',
      rows,
      notes: [
        'Includes the sha256 pass over the whole blob before it is linked (one more read of the file).',
        'Parts overlap the source reading the file, the socket and the target writing at its offset; a single stream waits on each in turn.',
      ],
    };
  } finally {
    for (const s of servers.reverse()) await s.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}
