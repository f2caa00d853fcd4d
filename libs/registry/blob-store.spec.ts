import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { CorralError } from '@corral/common';
import { BlobStore, normalizeDigest, sweepTempFiles, TEMP_PREFIX } from './blob-store';

const sha = (s: string | Buffer) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe('BlobStore', () => {
  let dir: string;
  let store: BlobStore;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(tmpdir(), 'corral-blobs-'));
    store = new BlobStore(dir);
    await store.init();
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  const blobDir = () => fs.readdir(path.join(dir, 'blobs'));

  it('stores a stream under sha256-<hex> when the digest matches', async () => {
    const data = Buffer.from('hello blobs');
    const r = await store.put(sha(data), Readable.from([data.subarray(0, 5), data.subarray(5)]));
    expect(r).toEqual({ digest: sha(data), size: data.length, created: true });
    expect(await blobDir()).toEqual([sha(data).replace(':', '-')]);
    expect(await fs.readFile(store.path(sha(data)), 'utf8')).toBe('hello blobs');
    expect(await store.has(sha(data))).toBe(true);
    expect(await store.size(sha(data))).toBe(data.length);
    // Storing the same content again is a no-op that reports the blob already existed.
    expect((await store.put(sha(data), Readable.from([data]))).created).toBe(false);
    expect(await blobDir()).toHaveLength(1);
  });

  it('rejects a stream whose content does not match and leaves no temp file', async () => {
    const claimed = sha('something else');
    await expect(store.put(claimed, Readable.from([Buffer.from('actual content')]))).rejects.toMatchObject({
      code: 'digest_mismatch',
      message: `digest mismatch: expected ${claimed}, got ${sha('actual content')}`,
    });
    expect(await blobDir()).toEqual([]);
  });

  it('removes the temp file when the source stream fails midway', async () => {
    async function* broken() {
      yield Buffer.from('partial');
      throw new Error('client went away');
    }
    await expect(store.put(sha('x'), broken())).rejects.toThrow('client went away');
    expect(await blobDir()).toEqual([]);
  });

  it('removes the temp file when aborted', async () => {
    const ac = new AbortController();
    async function* slow() {
      yield Buffer.from('a');
      ac.abort();
      await new Promise((r) => setTimeout(r, 20));
      yield Buffer.from('b');
    }
    await expect(store.put(sha('ab'), slow(), { signal: ac.signal })).rejects.toThrow();
    expect(await blobDir()).toEqual([]);
  });

  it('validates digests, accepting Ollama’s sha256- form and upper-case hex', async () => {
    const hex = 'A'.repeat(64);
    expect(normalizeDigest(`sha256-${hex}`)).toBe(`sha256:${'a'.repeat(64)}`);
    for (const bad of [
      'sha256:abc',
      'md5:' + 'a'.repeat(64),
      '../../etc/passwd',
      `sha256:${'g'.repeat(64)}`,
    ]) {
      expect(() => normalizeDigest(bad)).toThrow(CorralError);
      await expect(store.put(bad, Readable.from([]))).rejects.toMatchObject({ code: 'bad_request' });
    }
    expect(await blobDir()).toEqual([]);
  });

  it('putFile computes the digest while copying; remove deletes', async () => {
    const src = path.join(dir, 'src.bin');
    await fs.writeFile(src, Buffer.alloc(300_000, 7));
    const r = await store.putFile(src);
    expect(r.digest).toBe(sha(Buffer.alloc(300_000, 7)));
    expect(r.created).toBe(true);
    expect(await store.list()).toEqual([r.digest]);
    expect(await store.remove(r.digest)).toBe(true);
    expect(await store.has(r.digest)).toBe(false);
    expect(await store.remove(r.digest)).toBe(false);
  });

  it('never removes a leased blob', async () => {
    const r = await store.putBytes('pinned');
    const lease = store.lease();
    await lease.hold(r.digest);
    expect(await store.remove(r.digest)).toBe(false);
    expect(await store.has(r.digest)).toBe(true);
    lease.release();
    expect(await store.remove(r.digest)).toBe(true);
  });

  it('sweeps temp files of dead writers at startup, keeps live ones and real blobs', async () => {
    const blobs = path.join(dir, 'blobs');
    const { hostname } = await import('node:os');
    const dead = path.join(blobs, `${TEMP_PREFIX}${hostname()}-999999999-abc123`);
    const mine = path.join(blobs, `${TEMP_PREFIX}${hostname()}-${process.pid}-abc123`);
    const foreignOld = path.join(blobs, `${TEMP_PREFIX}otherhost-1-abc123`);
    const foreignNew = path.join(blobs, `${TEMP_PREFIX}otherhost-2-abc123`);
    for (const f of [dead, mine, foreignOld, foreignNew]) await fs.writeFile(f, 'x');
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await fs.utimes(foreignOld, old, old);
    const kept = await store.putBytes('kept');
    expect(await sweepTempFiles(blobs)).toBe(2);
    const left = await blobDir();
    expect(left.sort()).toEqual(
      [path.basename(mine), path.basename(foreignNew), kept.digest.replace(':', '-')].sort(),
    );
  });
});
