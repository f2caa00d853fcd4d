/**
 * Domain errors. Code raises `CorralError` with a code; the HTTP exception filter maps the code to a
 * status and renders it in the caller's dialect (Ollama or OpenAI). Messages are written for the
 * person calling the API: they name the problem and never carry internals or secrets.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_model_file: 400,
  invalid_modelfile: 400,
  unsupported: 400,
  digest_mismatch: 400,
  unauthorized: 401,
  forbidden: 403,
  model_not_found: 404,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  quota_exceeded: 429,
  internal: 500,
  worker_failed: 500,
  model_load_failed: 500,
  queue_full: 503,
  unavailable: 503,
  /** The models directory (or another store) is full. */
  insufficient_storage: 507,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class CorralError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Name of the offending request field, when there is one (OpenAI's `param`). */
    readonly param?: string,
  ) {
    super(message);
    this.name = 'CorralError';
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isCorralError(e: unknown): e is CorralError {
  return e instanceof CorralError;
}

/** Narrowing helper for exhaustive switches: the compiler proves `value` is `never`. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
