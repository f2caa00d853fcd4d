/**
 * Request fields shared by /v1/chat/completions and /v1/completions. Optional fields accept null
 * because OpenAI's SDKs and LangChain send explicit nulls for unset parameters.
 */
import { z } from 'zod';
import { MAX_LOGIT_BIAS, MAX_NUM_PREDICT, MAX_STOP_LENGTH } from '@corral/worker-protocol';

export const StopSchema = z
  .union([z.string(), z.array(z.string()).max(4)], {
    error: 'must be a string or an array of at most 4 strings',
  })
  .refine((v) => (typeof v === 'string' ? [v] : v).every((s) => s.length <= MAX_STOP_LENGTH), {
    message: `must be strings of at most ${MAX_STOP_LENGTH} characters`,
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
  seed: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
  stop: StopSchema.nullish(),
  max_tokens: z.number().int().min(1).max(MAX_NUM_PREDICT).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  n: z.number().int().nullish(),
  logit_bias: z
    .record(z.string(), z.number())
    .refine((v) => Object.keys(v).length <= MAX_LOGIT_BIAS, {
      message: `must have at most ${MAX_LOGIT_BIAS} entries`,
    })
    .nullish(),
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
