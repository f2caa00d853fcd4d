/** Request bodies of Ollama's API (docs/api.md of Ollama), validated at the boundary. */
import { z } from 'zod';
import { groundingSchema } from '@corral/knowledge';
import {
  MAX_EMBED_CHARS,
  MAX_EMBED_INPUTS,
  MAX_IMAGES,
  MAX_MESSAGES,
  MAX_NUM_CTX,
  MAX_TOOLS,
  jsonShapeProblem,
} from '@corral/worker-protocol';

const keepAlive = z.union([z.string(), z.number()]).optional();
/** A JSON schema, bounded in depth and size: the grammar converters recurse over it. */
const jsonSchema = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  const problem = jsonShapeProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const format = z
  .union([z.literal(''), z.literal('json'), jsonSchema], {
    error: (iss) => (iss.input === undefined ? undefined : 'must be "json" or a JSON schema object'),
  })
  .optional();
const images = z.array(z.string()).max(MAX_IMAGES).optional();
const think = z.union([z.boolean(), z.enum(['high', 'medium', 'low'])]).optional();

export const GenerateBody = z.object({
  model: z.string().min(1),
  prompt: z.string().optional(),
  suffix: z.string().optional(),
  system: z.string().optional(),
  template: z.string().optional(),
  context: z.array(z.number().int().min(0)).max(MAX_NUM_CTX).optional(),
  stream: z.boolean().optional(),
  raw: z.boolean().optional(),
  format,
  images,
  options: z.unknown().optional(),
  keep_alive: keepAlive,
  think,
});
export type GenerateBody = z.infer<typeof GenerateBody>;

const ToolCallBody = z.object({
  function: z.object({
    name: z.string(),
    arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
  }),
});

export const ChatMessageBody = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string().default(''),
  images,
  tool_calls: z.array(ToolCallBody).optional(),
  tool_name: z.string().optional(),
  thinking: z.string().optional(),
});

export const ToolBody = z.object({
  type: z.literal('function').default('function'),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: jsonSchema.optional(),
  }),
});

export const ChatBody = z.object({
  model: z.string().min(1),
  messages: z.array(ChatMessageBody).max(MAX_MESSAGES).default([]),
  tools: z.array(ToolBody).max(MAX_TOOLS).optional(),
  stream: z.boolean().optional(),
  format,
  options: z.unknown().optional(),
  keep_alive: keepAlive,
  think,
  /** Corral's extension: ground the answer on knowledge bases (libs/knowledge/grounding). */
  knowledge: groundingSchema.optional(),
});
export type ChatBody = z.infer<typeof ChatBody>;

export const EmbedBody = z.object({
  model: z.string().min(1),
  input: z
    .union([z.string(), z.array(z.string())], {
      error: (iss) => (iss.input === undefined ? undefined : 'must be a string or an array of strings'),
    })
    .superRefine((v, ctx) => {
      const list = typeof v === 'string' ? [v] : v;
      if (list.length > MAX_EMBED_INPUTS)
        ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_EMBED_INPUTS} items` });
      else if (list.reduce((n, s) => n + s.length, 0) > MAX_EMBED_CHARS)
        ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_EMBED_CHARS} characters in all` });
    }),
  truncate: z.boolean().optional(),
  options: z.unknown().optional(),
  keep_alive: keepAlive,
  dimensions: z.number().int().positive().optional(),
});

export const LegacyEmbeddingsBody = z.object({
  model: z.string().min(1),
  prompt: z.string(),
  options: z.unknown().optional(),
  keep_alive: keepAlive,
});

export const ShowBody = z.object({
  model: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  verbose: z.boolean().optional(),
});

export const CopyBody = z.object({ source: z.string().min(1), destination: z.string().min(1) });
export const DeleteBody = z.object({
  model: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
});
