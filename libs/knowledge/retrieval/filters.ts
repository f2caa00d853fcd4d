/**
 * OpenAI's attribute filters (ComparisonFilter `{key, type, value}` and CompoundFilter
 * `{type: and|or, filters}`), validated and turned into a SQL predicate over a document's
 * `attributes` with bound parameters only: a key or value never becomes SQL text.
 */
import { z } from 'zod';

const Scalar = z.union([z.string().max(512), z.number(), z.boolean()]);
const Comparison = z
  .object({
    key: z.string().min(1).max(64),
    type: z.enum(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin']),
    value: z.union([Scalar, z.array(z.union([z.string().max(512), z.number()])).max(100)]),
  })
  .strict();

export type ComparisonFilter = z.infer<typeof Comparison>;
export interface CompoundFilter {
  type: 'and' | 'or';
  filters: Filter[];
}
export type Filter = ComparisonFilter | CompoundFilter;

export const FilterSchema: z.ZodType<Filter> = z.lazy(() =>
  z.union([
    Comparison,
    z.object({ type: z.enum(['and', 'or']), filters: z.array(FilterSchema).min(1).max(32) }).strict(),
  ]),
);

const OPS = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/**
 * The predicate for `filter` on the documents alias `d`, pushing values onto `params` (whose
 * current length decides the placeholder numbers).
 */
export function filterSql(filter: Filter, params: unknown[], alias = 'd'): string {
  if (filter.type === 'and' || filter.type === 'or') {
    const parts = (filter as CompoundFilter).filters.map((f) => `(${filterSql(f, params, alias)})`);
    return parts.join(filter.type === 'and' ? ' AND ' : ' OR ');
  }
  const f = filter as ComparisonFilter;
  params.push(f.key);
  const key = `$${params.length}`;
  const attr = `${alias}.attributes -> ${key}`;
  if (f.type === 'in' || f.type === 'nin') {
    if (!Array.isArray(f.value)) throw new Error(`filter '${f.type}' on '${f.key}' needs an array value`);
    params.push(JSON.stringify(f.value));
    const has = `coalesce(${attr} IN (SELECT jsonb_array_elements($${params.length}::jsonb)), false)`;
    return f.type === 'in' ? has : `NOT ${has}`;
  }
  if (Array.isArray(f.value)) throw new Error(`filter '${f.type}' on '${f.key}' needs a single value`);
  if (typeof f.value === 'number' && f.type !== 'eq' && f.type !== 'ne') {
    params.push(f.value);
    return `jsonb_typeof(${attr}) = 'number' AND (${alias}.attributes ->> ${key})::float8 ${OPS[f.type]} $${params.length}`;
  }
  params.push(JSON.stringify(f.value));
  const v = `$${params.length}::jsonb`;
  if (f.type === 'eq') return `coalesce(${attr} = ${v}, false)`;
  if (f.type === 'ne') return `coalesce(${attr} <> ${v}, true)`;
  // Strings compare as text (ISO dates order correctly that way).
  return `jsonb_typeof(${attr}) = jsonb_typeof(${v}) AND (${alias}.attributes ->> ${key}) ${OPS[f.type]} (${v} #>> '{}')`;
}
