import type { z } from 'zod';
import { CorralError } from '@corral/common';

/** Parses admin input; unknown fields and bad values become a 400 naming the field. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what = 'request body',
): z.output<S> {
  const value = input === undefined || input === null ? {} : input;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new CorralError('bad_request', `${what} must be a JSON object`);
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `'${k}'`).join(', ');
    throw new CorralError(
      'bad_request',
      `unknown field${issue.keys.length > 1 ? 's' : ''} ${keys}`,
      issue.keys[0],
    );
  }
  const field = issue.path.map(String).join('.');
  if (issue.code === 'invalid_type' && issue.input === undefined)
    throw new CorralError('bad_request', `'${field}' is required`, field);
  throw new CorralError(
    'bad_request',
    field ? `invalid '${field}': ${issue.message}` : issue.message,
    field || undefined,
  );
}
