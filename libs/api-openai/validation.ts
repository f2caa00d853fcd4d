/**
 * Turns zod issues into one 400 that names the offending field the way OpenAI's errors do
 * (`param` set), so SDK users see "'messages' is required" rather than zod's internal wording.
 */
import type { z } from 'zod';
import { CorralError } from '@corral/common';

/** `messages[0].content` — the form OpenAI clients and docs use for nested fields. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

type Issue = z.core.$ZodIssue;

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeType(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'array':
      return 'an array';
    case 'record':
      return 'an object';
    default:
      return article(expected);
  }
}

function quote(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
}

/** One sentence for one issue, starting with the quoted field name. */
export function issueMessage(issue: Issue): string {
  const field = fieldPath(issue.path) || 'body';
  const name = `'${field}'`;
  if (
    'input' in issue &&
    issue.input === undefined &&
    (issue.code === 'invalid_type' || issue.code === 'invalid_union')
  ) {
    return `${name} is required`;
  }
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === null) return `${name} must not be null`;
      return `${name} must be ${describeType(issue.expected)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `${name} must be ${quote(issue.values[0])}`
        : `${name} must be one of ${issue.values.map(quote).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'array')
        return `${name} must have at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      if (issue.origin === 'string')
        return issue.minimum === 1
          ? `${name} must not be empty`
          : `${name} must be at least ${issue.minimum} characters`;
      return `${name} must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array')
        return `${name} must have at most ${issue.maximum} item${issue.maximum === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return `${name} must be at most ${issue.maximum} characters`;
      return `${name} must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
    case 'invalid_union':
      // Schemas give their unions a message of their own; zod's default says nothing useful.
      return issue.message && !issue.message.startsWith('Invalid')
        ? `${name} ${issue.message}`
        : `${name} is invalid`;
    case 'unrecognized_keys':
      return `unrecognized field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map(quote).join(', ')}`;
    case 'invalid_format':
      return `${name} must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `${name} must be a multiple of ${String(issue.divisor)}`;
    case 'custom':
      return `${name} ${issue.message}`;
    case 'invalid_key':
    case 'invalid_element':
      return `${name}: ${issue.message}`;
  }
}

/** Parses `body` with `schema`, or throws a 400 for its first issue with `param` naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new CorralError('bad_request', 'request body must be a JSON object');
  }
  // Without reportInput zod leaves `input` off every issue, and "missing" looks like "wrong type".
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new CorralError('bad_request', 'invalid request body');
  const param = fieldPath(issue.path) || undefined;
  throw new CorralError('bad_request', issueMessage(issue), param);
}
