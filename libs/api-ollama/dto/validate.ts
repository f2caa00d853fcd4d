import type { z } from 'zod';
import { CorralError } from '@corral/common';

/** `messages[0].content`: the field as the client wrote it. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

function describeType(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'array':
      return 'an array';
    case 'record':
    case 'object':
      return 'an object';
    default:
      return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
  }
}

const quote = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

/**
 * One sentence for one zod issue, naming the field as sent (`prompt must be a string`): a wrong
 * type is never reported as missing, and zod's internal wording and paths never reach the client.
 */
export function issueMessage(issue: z.core.$ZodIssue): string {
  const field = fieldPath(issue.path) || 'request body';
  const missing = 'input' in issue && issue.input === undefined;
  switch (issue.code) {
    case 'invalid_type':
      if (missing) return `${field} is required`;
      if (issue.input === null) return `${field} must not be null`;
      return `${field} must be ${describeType(issue.expected)}`;
    case 'invalid_value':
      if (missing) return `${field} is required`;
      return issue.values.length === 1
        ? `${field} must be ${quote(issue.values[0])}`
        : `${field} must be one of ${issue.values.map(quote).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'array')
        return `${field} must have at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string')
        return issue.minimum === 1
          ? `${field} must not be empty`
          : `${field} must be at least ${issue.minimum} characters`;
      return `${field} must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array')
        return `${field} must have at most ${issue.maximum} item${issue.maximum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return `${field} must be at most ${issue.maximum} characters`;
      return `${field} must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
    case 'invalid_union':
      if (missing) return `${field} is required`;
      return issue.message && !issue.message.startsWith('Invalid')
        ? `${field} ${issue.message}`
        : `${field} is invalid`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map(quote).join(', ')}`;
    case 'invalid_format':
      return `${field} must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `${field} must be a multiple of ${String(issue.divisor)}`;
    case 'custom':
      return `${field} ${issue.message}`;
    case 'invalid_key':
    case 'invalid_element':
      return `${field} is invalid`;
  }
}

/** Parses a request body with a zod schema; the first problem becomes a 400 naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null) throw new CorralError('bad_request', 'missing request body');
  if (typeof body !== 'object' || Array.isArray(body))
    throw new CorralError('bad_request', 'request body must be a JSON object');
  // Without reportInput zod leaves `input` off every issue, and a wrong type reads as "missing".
  const r = schema.safeParse(body, { reportInput: true });
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (!issue) throw new CorralError('bad_request', 'invalid request body');
  throw new CorralError('bad_request', issueMessage(issue), fieldPath(issue.path) || undefined);
}
