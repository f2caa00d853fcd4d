/** The body of POST /v1/embeddings. */
import { z } from 'zod';

export const EmbeddingRequestSchema = z.object({
  model: z.string().min(1),
  /** Token arrays are rejected by the mapper with a specific message. */
  input: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))], {
    error: 'must be a string or an array of strings',
  }),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().min(1).nullish(),
  user: z.string().nullish(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;
