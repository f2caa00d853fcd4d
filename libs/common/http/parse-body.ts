/**
 * Request bodies parsed with a zod schema, for every dialect: the first problem becomes one 400
 * that names the field as the client wrote it (`messages[0].content`, with `param` set), and zod's
 * internal wording and paths never reach the client. Only the wording differs by dialect: Ollama
 * says `stream must be a boolean`, OpenAI `'stream' must be a boolean` (its errors quote names).
 */
import type { z } from 'zod';
import { CorralError } from '../errors';
import type { Dialect } from './dialect';

interface Wording {
  /** A field as it appears in a sentence. */
  name(field: string): string;
  /** What to call the body itself (an issue with an empty path). */
  root: string;
  /** Leads the list of fields the schema does not allow. */
  unknown: string;
  /** For an absent body. */
  noBody: string;
}

const WORDING: Record<Dialect, Wording> = {
  ollama: {
    name: (f) => f,
    root: 'request body',
    unknown: 'unknown field',
    noBody: 'missing request body',
  },
  openai: {
    name: (f) => `'${f}'`,
    root: 'body',
    unknown: 'unrecognized field',
    noBody: 'request body must be a JSON object',
  },
};

/** `messages[0].content`: the form clients and both APIs' docs use for nested fields. */
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
 * One sentence for one zod issue, starting with the field's name. A wrong type is never reported
 * as missing: that needs `issue.input`, which zod only sets when parsing with `reportInput`.
 */
export function issueMessage(issue: z.core.$ZodIssue, dialect: Dialect): string {
  const w = WORDING[dialect];
  const field = fieldPath(issue.path);
  const name = field ? w.name(field) : w.root;
  const missing = 'input' in issue && issue.input === undefined;
  switch (issue.code) {
    case 'invalid_type':
      if (missing) return `${name} is required`;
      if (issue.input === null) return `${name} must not be null`;
      return `${name} must be ${describeType(issue.expected)}`;
    case 'invalid_value':
      if (missing) return `${name} is required`;
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
      if (missing) return `${name} is required`;
      // Schemas give their unions a message of their own; zod's default says nothing useful.
      return issue.message && !issue.message.startsWith('Invalid')
        ? `${name} ${issue.message}`
        : `${name} is invalid`;
    case 'unrecognized_keys':
      return `${w.unknown}${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map(quote).join(', ')}`;
    case 'invalid_format':
      return `${name} must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `${name} must be a multiple of ${String(issue.divisor)}`;
    case 'custom':
      return `${name} ${issue.message}`;
    case 'invalid_key':
    case 'invalid_element':
      return `${name} is invalid`;
  }
}

/** Parses a request body with a zod schema; the first problem becomes a 400 naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, dialect: Dialect): z.output<S> {
  if (body === undefined || body === null) throw new CorralError('bad_request', WORDING[dialect].noBody);
  if (typeof body !== 'object' || Array.isArray(body))
    throw new CorralError('bad_request', 'request body must be a JSON object');
  // Without reportInput zod leaves `input` off every issue, and a wrong type reads as "missing".
  const r = schema.safeParse(body, { reportInput: true });
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (!issue) throw new CorralError('bad_request', 'invalid request body');
  throw new CorralError('bad_request', issueMessage(issue, dialect), fieldPath(issue.path) || undefined);
}
