import { GRAMMAR_SCHEMA_KEYWORDS, jsonShapeProblem } from '@corral/worker-protocol';
import { WorkerJobError } from './errors';

/** Keywords that only annotate a schema; they never change what output is valid. */
const ANNOTATIONS = new Set([
  'description',
  'title',
  '$schema',
  '$id',
  '$comment',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
]);
/** Keywords node-llama-cpp's JSON-schema-to-GBNF converter enforces. */
const ENFORCED = GRAMMAR_SCHEMA_KEYWORDS;
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);
const FORMATS = new Set(['date-time', 'time', 'date']);

/**
 * Checks a caller's JSON schema against what the grammar converter can enforce and returns the form it
 * understands. node-llama-cpp silently ignores keywords it does not know (e.g. `pattern`, `minimum`),
 * which would yield output that violates the caller's schema, so those are rejected up front with the
 * paths that use them. `anyOf` becomes `oneOf`: for generating one value they accept the same outputs.
 */
export function normalizeJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
  // walk() recurses: measure first, without recursion, so a deep schema cannot overflow the stack.
  const shape = jsonShapeProblem(schema);
  if (shape) throw new WorkerJobError('bad_request', `the JSON schema for structured output ${shape}`);
  const problems: string[] = [];
  const out = walk(schema, '#', problems);
  if (problems.length > 0) {
    throw new WorkerJobError(
      'bad_request',
      `unsupported JSON schema for structured output: ${problems.slice(0, 8).join('; ')}`,
    );
  }
  return out as Record<string, unknown>;
}

function walk(node: unknown, path: string, problems: string[]): unknown {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) {
    problems.push(`${path} is not a schema object`);
    return node;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (ANNOTATIONS.has(key)) {
      if (key === 'description') out[key] = value;
      continue;
    }
    if (!ENFORCED.has(key)) {
      problems.push(`${path}: keyword "${key}" is not supported`);
      continue;
    }
    switch (key) {
      case 'type': {
        const types = Array.isArray(value) ? value : [value];
        const bad = types.filter((t) => typeof t !== 'string' || !TYPES.has(t));
        if (bad.length > 0) problems.push(`${path}: unknown type ${JSON.stringify(bad)}`);
        out[key] = value;
        break;
      }
      case 'format':
        if (typeof value !== 'string' || !FORMATS.has(value))
          problems.push(`${path}: format ${JSON.stringify(value)} is not supported`);
        out[key] = value;
        break;
      case 'oneOf':
      case 'anyOf':
      case 'prefixItems':
        if (!Array.isArray(value)) problems.push(`${path}/${key} must be an array`);
        else
          out[key === 'anyOf' ? 'oneOf' : key] = value.map((v, i) =>
            walk(v, `${path}/${key}/${i}`, problems),
          );
        break;
      case 'properties':
      case '$defs':
        if (typeof value !== 'object' || value === null || Array.isArray(value))
          problems.push(`${path}/${key} must be an object`);
        else
          out[key] = Object.fromEntries(
            Object.entries(value).map(([k, v]) => [k, walk(v, `${path}/${key}/${k}`, problems)]),
          );
        break;
      case 'items':
        out[key] = walk(value, `${path}/items`, problems);
        break;
      case 'additionalProperties':
        out[key] = typeof value === 'boolean' ? value : walk(value, `${path}/additionalProperties`, problems);
        break;
      case '$ref':
        if (typeof value !== 'string' || !value.startsWith('#/$defs/'))
          problems.push(`${path}: only "#/$defs/..." references are supported`);
        out[key] = value;
        break;
      default:
        out[key] = value;
    }
  }
  return out;
}
