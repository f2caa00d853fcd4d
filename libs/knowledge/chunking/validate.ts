/** OpenAI's chunking_strategy rules, with errors that say which rule was broken. */
export type ChunkingStrategy =
  | { type: 'auto' }
  | { type: 'static'; static: { max_chunk_size_tokens: number; chunk_overlap_tokens: number } };

export const STATIC_MIN_TOKENS = 100;
export const STATIC_MAX_TOKENS = 4096;

/** Validates a chunking_strategy from a request body; undefined means `auto`, as in OpenAI's API. */
export function validateChunking(input: unknown): ChunkingStrategy {
  if (input === undefined) return { type: 'auto' };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error(
      'chunking_strategy must be an object: {"type":"auto"} or {"type":"static","static":{...}}',
    );
  }
  const o = input as Record<string, unknown>;
  if (o.type === 'auto') {
    onlyKeys(o, ['type'], 'chunking_strategy');
    return { type: 'auto' };
  }
  if (o.type !== 'static') {
    throw new Error(
      `chunking_strategy.type must be "auto" or "static", not ${JSON.stringify(o.type) ?? 'undefined'}`,
    );
  }
  onlyKeys(o, ['type', 'static'], 'chunking_strategy');
  const s = o.static;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) {
    throw new Error(
      'chunking_strategy.static must be an object with max_chunk_size_tokens and chunk_overlap_tokens',
    );
  }
  const st = s as Record<string, unknown>;
  onlyKeys(st, ['max_chunk_size_tokens', 'chunk_overlap_tokens'], 'chunking_strategy.static');
  const max = st.max_chunk_size_tokens;
  const overlap = st.chunk_overlap_tokens;
  if (
    typeof max !== 'number' ||
    !Number.isInteger(max) ||
    max < STATIC_MIN_TOKENS ||
    max > STATIC_MAX_TOKENS
  ) {
    throw new Error(
      `chunking_strategy.static.max_chunk_size_tokens must be an integer from ${STATIC_MIN_TOKENS} to ${STATIC_MAX_TOKENS}, not ${JSON.stringify(max) ?? 'undefined'}`,
    );
  }
  if (typeof overlap !== 'number' || !Number.isInteger(overlap) || overlap < 0) {
    throw new Error(
      `chunking_strategy.static.chunk_overlap_tokens must be an integer of 0 or more, not ${JSON.stringify(overlap) ?? 'undefined'}`,
    );
  }
  if (overlap > max / 2) {
    throw new Error(
      `chunking_strategy.static.chunk_overlap_tokens (${overlap}) must not exceed half of max_chunk_size_tokens (${max})`,
    );
  }
  return { type: 'static', static: { max_chunk_size_tokens: max, chunk_overlap_tokens: overlap } };
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], where: string): void {
  const extra = Object.keys(o).filter((k) => !allowed.includes(k));
  if (extra.length > 0)
    throw new Error(`${where} has unknown field ${JSON.stringify(extra[0])}; allowed: ${allowed.join(', ')}`);
}
