import type { z } from 'zod';
import { CorralError } from '@corral/common';

/** Parses a request body with a zod schema; the first problem becomes a 400 naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null) throw new CorralError('bad_request', 'missing request body');
  if (typeof body !== 'object' || Array.isArray(body))
    throw new CorralError('bad_request', 'request body must be a JSON object');
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  if (issue?.code === 'invalid_type' && issue.input === undefined) {
    throw new CorralError('bad_request', `${field} is required`, field);
  }
  throw new CorralError(
    'bad_request',
    field ? `invalid ${field}: ${issue?.message}` : (issue?.message ?? 'invalid body'),
    field,
  );
}
