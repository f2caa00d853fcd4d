import { CorralError } from '@corral/common';
import type { Constraint } from '@corral/worker-protocol';

/** Ollama's `format`: "json" → any JSON; an object → that JSON schema; "" or absent → free text. */
export function formatToConstraint(format: unknown): Constraint | undefined {
  if (format === undefined || format === null || format === '') return undefined;
  if (format === 'json') return { type: 'json' };
  if (typeof format === 'object' && !Array.isArray(format)) {
    return { type: 'json_schema', schema: format as Record<string, unknown> };
  }
  throw new CorralError('bad_request', `invalid format: expected "json" or a JSON schema object`, 'format');
}
