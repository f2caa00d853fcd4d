/**
 * JSON schemas for grammar-constrained output: the schema that forces a tool call, and a relaxed
 * form of a caller's schema for when they did not ask for strict validation.
 */
import { GRAMMAR_SCHEMA_KEYWORDS, type ToolDef } from '@corral/worker-protocol';

/**
 * What the worker's grammar converter enforces (libs/inference/json-schema.ts). It rejects every
 * other keyword, so that a strict schema is never silently half-enforced.
 */
const ENFORCED = new Set([...GRAMMAR_SCHEMA_KEYWORDS, 'description']);
const FORMATS = new Set(['date-time', 'time', 'date']);
/** Keywords whose value is a map of name → subschema. */
const SCHEMA_MAPS = new Set(['properties', '$defs']);
/** Keywords whose value is a subschema or a list of them. */
const SUBSCHEMAS = new Set(['items', 'additionalProperties', 'oneOf', 'anyOf', 'prefixItems']);

/**
 * Drops what the grammar cannot enforce (`minimum`, `pattern`, `format: "email"`, ...). Tool
 * parameter schemas from pydantic or zod are full of these; refusing them would make forced tool
 * calls unusable, while dropping them only loosens checks the application does anyway.
 */
export function relaxSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(relaxSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!ENFORCED.has(key)) continue;
    if (key === 'format' && (typeof value !== 'string' || !FORMATS.has(value))) continue;
    if (SCHEMA_MAPS.has(key) && typeof value === 'object' && value !== null) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, relaxSchema(v)]));
    } else if (SUBSCHEMAS.has(key)) {
      out[key] = relaxSchema(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** A tool's arguments schema; a tool without parameters takes an empty object. */
export function argumentsSchema(tool: ToolDef): Record<string, unknown> {
  const params = tool.parameters;
  if (!params || Object.keys(params).length === 0) return { type: 'object', properties: {} };
  return relaxSchema(params) as Record<string, unknown>;
}

/**
 * The schema that forces a call. With one candidate the output is the arguments object itself, so
 * it can be streamed as `arguments` pieces; with several ("required" and many tools) the model
 * also has to choose, so the output is `{"name", "arguments"}` with one branch per tool.
 */
export function forcedToolSchema(tools: readonly ToolDef[]): Record<string, unknown> {
  const [only] = tools;
  if (tools.length === 1 && only) return argumentsSchema(only);
  return {
    oneOf: tools.map((t) => ({
      type: 'object',
      properties: { name: { const: t.name }, arguments: argumentsSchema(t) },
      required: ['name', 'arguments'],
    })),
  };
}
