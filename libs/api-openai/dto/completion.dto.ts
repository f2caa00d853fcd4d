/** The body of POST /v1/completions (OpenAI's legacy text completion). */
import { z } from 'zod';
import { SamplingFields } from './common.dto';

export const CompletionRequestSchema = z.object({
  ...SamplingFields,
  /** Token arrays and batches are rejected by the mapper with a specific message. */
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))], {
    error: 'must be a string or an array of one string',
  }),
  suffix: z.string().nullish(),
  echo: z.boolean().nullish(),
  best_of: z.number().int().nullish(),
  logprobs: z.number().int().nullish(),
});
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;
