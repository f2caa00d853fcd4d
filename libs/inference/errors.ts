import type { z } from 'zod';
import type { WorkerErrorCode } from '@corral/worker-protocol';

export type WorkerErrorCodeName = z.infer<typeof WorkerErrorCode>;

/** An error that becomes a protocol `error` message with this code; the message is shown to the caller. */
export class WorkerJobError extends Error {
  constructor(
    readonly code: WorkerErrorCodeName,
    message: string,
  ) {
    super(message);
    this.name = 'WorkerJobError';
  }
}

/**
 * Classifies anything thrown inside a job. node-llama-cpp signals memory exhaustion with
 * `InsufficientMemoryError` (matched by name so this module needs no runtime import of the ESM package).
 */
export function toJobError(e: unknown, fallback: WorkerErrorCodeName = 'internal'): WorkerJobError {
  if (e instanceof WorkerJobError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  if (err.name === 'InsufficientMemoryError' || /out of memory|insufficient memory/i.test(err.message)) {
    return new WorkerJobError('out_of_memory', err.message);
  }
  return new WorkerJobError(fallback, err.message);
}
