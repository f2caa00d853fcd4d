import { writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { storageError } from './storage-errors';
import { looksLikeServerPath } from './import-paths';

/** Real errors from the file system (tests run as root, which chmod does not stop). */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a failure');
}

describe('storageError', () => {
  it('maps a full device (ENOSPC, from /dev/full) to 507', async () => {
    if (!existsSync('/dev/full')) return console.log('no /dev/full: ENOSPC mapping not checked');
    const e = await failure(() => writeFile('/dev/full', 'x'));
    expect(storageError(e)).toMatchObject({ code: 'insufficient_storage', status: 507 });
  });

  it('maps a directory nobody may write (sysfs: EPERM/EROFS) to 503 with the reason', async () => {
    const e = await failure(() => mkdir('/sys/kernel/corral-probe')).catch(() => undefined);
    if (!e) return console.log('/sys is writable here: EPERM mapping not checked');
    const mapped = storageError(e) as Error & { status: number };
    expect(mapped.status).toBe(503);
    expect(mapped.message).toMatch(/^models directory is not writable: .+ \((EPERM|EACCES|EROFS)\)$/);
  });

  it('leaves other errors alone', async () => {
    const e = await failure(() => writeFile('/nonexistent/dir/x', 'x'));
    expect(storageError(e)).toBe(e);
  });
});

describe('looksLikeServerPath', () => {
  it.each(['/etc/passwd', './x', '../../x', '~/m.gguf', 'a/../../b', 'C:\\m.gguf', 'model.gguf', '.', '..'])(
    '%s is a path',
    (p) => expect(looksLikeServerPath(p)).toBe(true),
  );
  it.each(['llama3', 'llama3:8b', 'library/llama3:latest', 'registry.local:5000/team/m:q4'])(
    '%s is a model name',
    (p) => expect(looksLikeServerPath(p)).toBe(false),
  );
});
