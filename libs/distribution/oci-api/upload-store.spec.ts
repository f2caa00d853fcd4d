import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BlobStore } from '@corral/registry';
import { UploadStore } from './upload-store';

let dir: string;
let uploads: UploadStore;
let blobs: BlobStore;
const body = (s: string) => Readable.from([Buffer.from(s)]);
const digest = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'corral-uploads-'));
  uploads = new UploadStore(dir);
  blobs = new BlobStore(dir);
  await blobs.init();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('UploadStore', () => {
  it('takes chunks in order and links the blob only when the digest matches', async () => {
    const id = await uploads.create();
    expect(await uploads.append(id, body('hello '), 0)).toBe(6);
    await expect(uploads.append(id, body('again'), 0)).rejects.toMatchObject({ status: 416 });
    expect(await uploads.append(id, body('world'), 6)).toBe(11);
    const put = await uploads.finish(id, digest('hello world'), blobs);
    expect(put).toMatchObject({ digest: digest('hello world'), size: 11, created: true });
    expect(await blobs.has(digest('hello world'))).toBe(true);
    await expect(uploads.size(id)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
  });

  it('deletes an upload whose digest does not match, storing nothing', async () => {
    const id = await uploads.create();
    await uploads.append(id, body('tampered'));
    await expect(uploads.finish(id, digest('original'), blobs)).rejects.toMatchObject({
      code: 'digest_mismatch',
    });
    expect(await blobs.list()).toEqual([]);
    expect(readdirSync(join(dir, 'uploads'))).toEqual([]);
  });

  it('refuses session ids that are not its own (no paths)', async () => {
    await expect(uploads.size('../blobs/x')).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
    await expect(uploads.append('../../etc', body('x'))).rejects.toMatchObject({
      code: 'BLOB_UPLOAD_UNKNOWN',
    });
  });

  it('sweeps sessions abandoned for longer than the idle limit', async () => {
    const old = await uploads.create();
    const fresh = await uploads.create();
    const past = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(join(dir, 'uploads', old), past, past);
    expect(await uploads.sweep(60 * 60 * 1000)).toBe(1);
    expect(existsSync(join(dir, 'uploads', old))).toBe(false);
    expect(existsSync(join(dir, 'uploads', fresh))).toBe(true);
  });
});
