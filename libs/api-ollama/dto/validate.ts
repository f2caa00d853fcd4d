/** Ollama request bodies: the shared parser (@corral/common) with Ollama's wording. */
import type { z } from 'zod';
import { parseBody as parse } from '@corral/common';

/** Parses a request body with a zod schema; the first problem becomes a 400 naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  return parse(schema, body, 'ollama');
}
