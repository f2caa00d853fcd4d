/**
 * OpenAI request bodies: the shared parser (@corral/common) with OpenAI's wording, so SDK users
 * see "'messages' is required" with `param` set rather than zod's internal wording.
 */
import type { z } from 'zod';
import { parseBody as parse } from '@corral/common';

export { fieldPath } from '@corral/common';

/** Parses `body` with `schema`, or throws a 400 for its first issue with `param` naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  return parse(schema, body, 'openai');
}
