/**
 * `corral kb` as a user runs it against the real server with the admin key: create a base, add
 * Markdown files from a directory, list its documents, search, evaluate a small BEIR set in a
 * temporary base, and remove the base.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCorral, type CorralProcess } from '@corral/testing';

jest.setTimeout(240_000);

let corral: CorralProcess;
let env: NodeJS.ProcessEnv;
let dir: string;

beforeAll(async () => {
  corral = await startCorral();
  env = { CORRAL_HOST: corral.url, CORRAL_HOME: corral.home, CORRAL_API_KEY: corral.key };
  dir = mkdtempSync(join(tmpdir(), 'corral-kb-cli-'));
});
afterAll(async () => {
  await corral?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('creates a base, adds a directory of Markdown, lists, searches and removes it', async () => {
  const created = await runCli(
    ['kb', 'create', 'handbook', '--chunk-size', '200', '--chunk-overlap', '20'],
    env,
  );
  expect(created.stderr).toBe('');
  expect(created.code).toBe(0);
  const id = created.stdout.trim();
  expect(id).toMatch(/^vs_\w+$/);

  const docs = join(dir, 'docs');
  mkdirSync(docs);
  writeFileSync(
    join(docs, 'vacation.md'),
    '# Vacation policy\n\nEmployees accrue thirty days of paid vacation per year.\n\n## Carry-over\n\nUnused days expire in March.\n',
  );
  writeFileSync(
    join(docs, 'laptops.md'),
    '# Laptop setup\n\nEvery new laptop is enrolled in disk encryption before it is handed out.\n',
  );
  const added = await runCli(['kb', 'add', 'handbook', docs, '--attr', 'source=handbook'], env);
  expect(added.code).toBe(0);
  expect(added.stderr).toMatch(/uploading 2 files\s+100%/);
  expect(added.stderr).toMatch(/indexing 2\/2 files/);
  expect(added.stdout).toMatch(new RegExp(`added 2 of 2 files to ${id}`));

  const list = await runCli(['kb', 'list'], env);
  expect(list.stdout).toMatch(/^ID\s+NAME\s+TEAM\s+DOCUMENTS\s+USAGE\s+STATUS/m);
  expect(list.stdout).toMatch(new RegExp(`^${id}\\s+handbook\\s+\\S+\\s+2/2\\s`, 'm'));

  const listed = await runCli(['kb', 'docs', id], env);
  expect(listed.code).toBe(0);
  expect(listed.stdout).toMatch(/^FILE ID\s+FILENAME\s+STATUS\s+CHUNKS\s+USAGE\s+ERROR/m);
  expect(listed.stdout).toMatch(/file-\w+\s+vacation\.md\s+completed\s+\d+/);
  expect(listed.stdout).toMatch(/file-\w+\s+laptops\.md\s+completed\s+\d+/);

  const found = await runCli(['kb', 'search', id, 'disk', 'encryption', '-k', '3'], env);
  expect(found.code).toBe(0);
  const rows = found.stdout.split('\n').filter((l) => /^\d+\s/.test(l));
  expect(rows[0]).toMatch(/^1\s+\d\.\d{4}\s+laptops\.md\s+Laptop setup\s+.*encryption/);

  const json = await runCli(['kb', 'search', 'handbook', 'unused vacation days', '--json'], env);
  const hits = JSON.parse(json.stdout) as { filename: string; attributes: Record<string, unknown> }[];
  expect(hits[0]?.filename).toBe('vacation.md');
  expect(hits[0]?.attributes).toEqual({ source: 'handbook' });

  const fileId = /(file-\w+)\s+laptops\.md/.exec(listed.stdout)![1]!;
  const rmDoc = await runCli(['kb', 'rm', id, fileId], env);
  expect(rmDoc.stdout).toMatch(`removed ${fileId} from ${id}`);
  expect((await runCli(['kb', 'docs', id], env)).stdout).not.toMatch(/laptops\.md/);

  const rm = await runCli(['kb', 'rm', id, '--files'], env);
  expect(rm.code).toBe(0);
  expect(rm.stdout).toMatch(`deleted knowledge base ${id} and its 1 files`);
  expect((await runCli(['kb', 'list'], env)).stdout).not.toMatch(id);
  const gone = await runCli(['kb', 'docs', id], env);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/^Error: .*not found/);
});

it('reports files that could not be indexed and exits 1', async () => {
  const id = (await runCli(['kb', 'create', 'broken'], env)).stdout.trim();
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'good.md'), '# Fine\n\nThis one is fine.\n');
  writeFileSync(join(bad, 'empty.txt'), '');
  const added = await runCli(['kb', 'add', id, bad], env);
  expect(added.code).toBe(1);
  expect(added.stdout).toMatch(/^FAILED\s+FILE ID\s+REASON/m);
  expect(added.stdout).toMatch(/^empty\.txt\s+/m);
  expect(added.stderr).toMatch(/Error: 1 of 2 files could not be added/);
  await runCli(['kb', 'rm', id, '--files'], env);
});

it('evaluates retrieval on a small BEIR set in a temporary base', async () => {
  const corpus = [
    {
      _id: 'd1',
      title: 'Photosynthesis',
      text: 'Plants turn sunlight, water and carbon dioxide into sugar and oxygen.',
    },
    { _id: 'd2', title: 'Volcanoes', text: 'Magma rises through the crust and erupts as lava and ash.' },
    { _id: 'd3', title: 'Tides', text: 'The gravity of the moon pulls the oceans and causes tides.' },
    { _id: 'd4', title: 'Honey bees', text: 'Bees collect nectar from flowers and make honey in the hive.' },
    { _id: 'd5', title: 'Glaciers', text: 'Compacted snow becomes ice that flows slowly downhill.' },
  ];
  const c = join(dir, 'corpus.jsonl');
  const q = join(dir, 'queries.jsonl');
  const r = join(dir, 'qrels.tsv');
  writeFileSync(c, corpus.map((d) => JSON.stringify(d)).join('\n') + '\n');
  writeFileSync(
    q,
    [
      { _id: 'q1', text: 'why does the moon cause tides in the oceans' },
      { _id: 'q2', text: 'how do bees make honey from nectar' },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n') + '\n',
  );
  writeFileSync(r, 'query-id\tcorpus-id\tscore\nq1\td3\t1\nq2\td4\t1\n');

  const res = await runCli(['kb', 'eval', '--corpus', c, '--queries', q, '--qrels', r], env);
  expect(res.code).toBe(0);
  expect(res.stdout).toMatch(/^KNOWLEDGE BASE\s+QUERIES\s+NDCG@10\s+RECALL@10\s+RECALL@100\s+MRR@10/m);
  const m = /^eval-corpus-\d+\s+2\s+(\d\.\d{4})\s+(\d\.\d{4})\s+(\d\.\d{4})\s+(\d\.\d{4})/m.exec(res.stdout);
  expect(m).not.toBeNull();
  expect(Number(m![1])).toBeGreaterThan(0);
  expect(res.stderr).toMatch(/uploading 5 files/);
  expect(res.stderr).toMatch(/indexing 5\/5 files/);
  // The temporary base is gone again.
  expect((await runCli(['kb', 'list'], env)).stdout).not.toMatch(/eval-corpus/);
});
