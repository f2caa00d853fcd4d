/**
 * Bounds on what one request may make a worker allocate or do. The gateway checks them before a
 * job is dispatched (a 400 naming the field) and the worker applies them again (libs/inference),
 * so that no job, whoever produced it, sizes memory or work past them.
 */

/** Largest context (num_ctx) any request may ask for; the model's trained length caps it further. */
export const MAX_NUM_CTX = 262_144;
/** Largest prompt-processing batch (num_batch); it is also cut to the context size. */
export const MAX_NUM_BATCH = 65_536;
/** Largest num_thread accepted; the worker further cuts it to its host's cores. */
export const MAX_NUM_THREAD = 1_024;
/** Largest num_gpu (layers to offload); Ollama clients send 999 for "all". */
export const MAX_NUM_GPU = 100_000;
/** Largest num_predict / max_tokens: a 32-bit count (generation also ends when the context is full). */
export const MAX_NUM_PREDICT = 2_147_483_647;
/** Stop strings per request, and characters per stop string. */
export const MAX_STOP_STRINGS = 32;
export const MAX_STOP_LENGTH = 1_024;
/** Entries of OpenAI's logit_bias (OpenAI's own limit is 300 tokens per request). */
export const MAX_LOGIT_BIAS = 300;
/** Inputs of one embedding request (OpenAI's limit), and their total characters. */
export const MAX_EMBED_INPUTS = 2_048;
export const MAX_EMBED_CHARS = 8_000_000;
/** Images per request (and per message). */
export const MAX_IMAGES = 16;
/** Messages of one chat request. */
export const MAX_MESSAGES = 4_096;
/** Tools of one chat request. */
export const MAX_TOOLS = 256;
/**
 * A prompt longer than this many characters per context token cannot fit the context whatever the
 * tokenizer does (tokens average 3 to 5 characters); it is refused before it is tokenized.
 */
export const MAX_PROMPT_CHARS_PER_CTX_TOKEN = 64;
/** Nesting depth and total nodes of a JSON schema (format, response_format, tool parameters). */
export const MAX_SCHEMA_DEPTH = 64;
export const MAX_SCHEMA_NODES = 20_000;

/**
 * Measures a JSON value without recursion (a schema 20,000 levels deep must not overflow the stack
 * here either) and says what exceeds the bounds, or undefined when it fits.
 */
export function jsonShapeProblem(
  value: unknown,
  maxDepth = MAX_SCHEMA_DEPTH,
  maxNodes = MAX_SCHEMA_NODES,
): string | undefined {
  const stack: [unknown, number][] = [[value, 1]];
  let nodes = 0;
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > maxDepth) return `is nested more than ${maxDepth} levels deep`;
    if (++nodes > maxNodes) return `has more than ${maxNodes} objects and arrays`;
    const children = Array.isArray(node) ? node : Object.values(node as Record<string, unknown>);
    for (const c of children) if (typeof c === 'object' && c !== null) stack.push([c, depth + 1]);
  }
  return undefined;
}

/**
 * Refuses a prompt of `chars` characters that cannot fit a context of `numCtx` tokens (see
 * {@link MAX_PROMPT_CHARS_PER_CTX_TOKEN}); shorter prompts that still overflow are cut as Ollama cuts them.
 */
export function promptSizeProblem(chars: number, numCtx: number): string | undefined {
  const max = Math.max(numCtx, 1) * MAX_PROMPT_CHARS_PER_CTX_TOKEN;
  if (chars <= max) return undefined;
  return `the prompt is ${chars} characters, more than can fit the context of ${numCtx} tokens (at most ${max} characters); shorten it or raise num_ctx`;
}
