/**
 * Request fields shared by /v1/chat/completions and /v1/completions. Optional fields accept null
 * because OpenAI's SDKs and LangChain send explicit nulls for unset parameters.
 */
import { z } from 'zod';

export const StopSchema = z.union([z.string(), z.array(z.string()).max(4)], {
  error: 'must be a string or an array of at most 4 strings',
});

export const StreamOptionsSchema = z.object({
  include_usage: z.boolean().nullish(),
});

export const SamplingFields = {
  model: z.string().min(1),
  stream: z.boolean().nullish(),
  stream_options: StreamOptionsSchema.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: StopSchema.nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  n: z.number().int().nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  user: z.string().nullish(),
};

/** The fields every generation request carries, after parsing. */
export interface SamplingRequest {
  model: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  max_tokens?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  n?: number | null;
  logit_bias?: Record<string, number> | null;
  user?: string | null;
}
