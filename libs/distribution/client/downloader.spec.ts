/**
 * The downloader against a real HTTP server that serves byte ranges (and, on cue, wrong bytes):
 * parts in parallel, verification before linking, resume from saved progress.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStore } from '@corral/registry';
import { commitPartial, downloadBlob, fetchToPartial, partialPaths, sweepPartials } from './downloader';
import { RegistryClient } from './registry-client';

const data = randomBytes(300_000);
const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
let served = 0;
let requests = 0;
let corrupt = false;
let server: http.Server;
let client: RegistryClient;
let dir: string;
let blobs: BlobStore;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests++;
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!m || req.headers.authorization !== 'Bearer crl_test') return res.writeHead(401).end();
    const [start, end] = [Number(m[1]), Number(m[2])];
    const slice = Buffer.from(data.subarray(start, end + 1));
    if (corrupt) slice[0] = slice[0]! ^ 1;
    served += slice.length;
    res.writeHead(206, {
      'content-range': `bytes ${start}-${end}/${data.length}`,
      'content-length': slice.length,
    });
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  client = new RegistryClient({ origin: `http://127.0.0.1:${port}`, key: 'crl_test' });
});
afterAll(() => new Promise((r) => server.close(r)));

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'corral-dl-'));
  blobs = new BlobStore(dir);
  await blobs.init();
  served = 0;
  requests = 0;
  corrupt = false;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const job = () => ({
  client,
  repository: 'library/x',
  digest,
  size: data.length,
  partialDir: join(dir, 'partial'),
  concurrency: 3,
  partSize: 64 * 1024,
});

describe('downloadBlob', () => {
  it('fetches a blob in ranged parts, verifies it and links it', async () => {
    const seen: number[] = [];
    const r = await downloadBlob(blobs, { ...job(), onProgress: (n) => seen.push(n) });
    expect(r).toMatchObject({ digest, size: data.length, created: true, resumed: 0, fetched: data.length });
    expect(requests).toBe(5);
    expect(readFileSync(blobs.path(digest)).equals(data)).toBe(true);
    expect(seen.at(-1)).toBe(data.length);
    expect(existsSync(partialPaths(job().partialDir, digest).data)).toBe(false);
  });

  it('continues each part from its saved progress', async () => {
    await fetchToPartial(job());
    const files = partialPaths(job().partialDir, digest);
    // Pretend the run stopped early: part 0 half done, parts 2 and 4 not started.
    const state = JSON.parse(readFileSync(files.state, 'utf8')) as {
      parts: { completed: number; size: number }[];
    };
    state.parts[0]!.completed = 1000;
    state.parts[2]!.completed = 0;
    state.parts[4]!.completed = 0;
    writeFileSync(files.state, JSON.stringify(state));
    served = 0;
    const r = await fetchToPartial(job());
    const missing = state.parts[0]!.size - 1000 + state.parts[2]!.size + state.parts[4]!.size;
    expect(r.fetched).toBe(missing);
    expect(served).toBe(missing);
    expect(r.resumed).toBe(data.length - missing);
    expect((await commitPartial(blobs, job().partialDir, digest)).created).toBe(true);
  });

  it('starts over when the saved progress does not fit the blob', async () => {
    await fetchToPartial(job());
    const files = partialPaths(job().partialDir, digest);
    writeFileSync(
      files.state,
      JSON.stringify({ digest, size: data.length, parts: [{ offset: 0, size: 5, completed: 5 }] }),
    );
    served = 0;
    const r = await fetchToPartial(job());
    expect(r.resumed).toBe(0);
    expect(served).toBe(data.length);
  });

  it('refuses content that does not hash to the digest: nothing linked, partial gone', async () => {
    corrupt = true;
    await expect(downloadBlob(blobs, job())).rejects.toMatchObject({
      code: 'digest_mismatch',
      message: expect.stringMatching(/nothing was stored/),
    });
    expect(await blobs.list()).toEqual([]);
    const files = partialPaths(job().partialDir, digest);
    expect(existsSync(files.data) || existsSync(files.state)).toBe(false);
  });

  it('reports the source refusing its key without retrying forever', async () => {
    const bad = new RegistryClient({ origin: client.origin, key: 'crl_wrong' });
    await expect(downloadBlob(blobs, { ...job(), client: bad })).rejects.toMatchObject({
      code: 'forbidden',
      message: expect.stringMatching(/401/),
    });
  });

  it('sweeps partials nobody resumed for longer than the age limit', async () => {
    await fetchToPartial(job());
    const files = partialPaths(job().partialDir, digest);
    expect(await sweepPartials(job().partialDir, 60_000)).toBe(0);
    const past = new Date(Date.now() - 120_000);
    utimesSync(files.data, past, past);
    utimesSync(files.state, past, past);
    expect(await sweepPartials(job().partialDir, 60_000)).toBe(1);
    expect(existsSync(files.data) || existsSync(files.state)).toBe(false);
  });
});
