/** The body of POST /v1/embeddings. */
import { z } from 'zod';
import { MAX_EMBED_CHARS, MAX_EMBED_INPUTS } from '@corral/worker-protocol';

export const EmbeddingRequestSchema = z.object({
  model: z.string().min(1),
  /** Token arrays are rejected by the mapper with a specific message. */
  input: z
    .union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))], {
      error: 'must be a string or an array of strings',
    })
    .superRefine((v, ctx) => {
      // Checked before any input is embedded: 100,000 inputs would hold a worker for minutes.
      const list: unknown[] = Array.isArray(v) ? v : [v];
      if (list.length > MAX_EMBED_INPUTS)
        ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_EMBED_INPUTS} items` });
      else if (
        list.reduce<number>(
          (n, s) => n + (typeof s === 'string' ? s.length : Array.isArray(s) ? s.length : 1),
          0,
        ) > MAX_EMBED_CHARS
      )
        ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_EMBED_CHARS} characters in all` });
    }),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
  user: z.string().nullish(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;
