/**
 * File-system failures of the models directory, as the caller should see them: a full disk is
 * 507 Insufficient Storage, a read-only or forbidden directory is 503 with the reason. Other errors
 * pass through unchanged (and stay 500s with a request id).
 */
import { CorralError } from '@corral/common';

const NOT_WRITABLE: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

const FULL: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
};

/** The CorralError for a storage failure of the models directory, or `e` itself. */
export function storageError(e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (e instanceof CorralError || typeof code !== 'string') return e;
  const full = FULL[code];
  if (full) return new CorralError('insufficient_storage', `models directory is full: ${full} (${code})`);
  const ro = NOT_WRITABLE[code];
  if (ro) return new CorralError('unavailable', `models directory is not writable: ${ro} (${code})`);
  return e;
}

/** Runs `fn`, turning storage failures into their CorralError. */
export async function mapStorageErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw storageError(e);
  }
}

export function isNotWritable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && code in NOT_WRITABLE;
}
