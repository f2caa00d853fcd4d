/** Request bodies of Ollama's API (docs/api.md of Ollama), validated at the boundary. */
import { z } from 'zod';

const keepAlive = z.union([z.string(), z.number()]).optional();
const format = z.union([z.literal(''), z.literal('json'), z.record(z.string(), z.unknown())]).optional();
const think = z.union([z.boolean(), z.enum(['high', 'medium', 'low'])]).optional();

export const GenerateBody = z.object({
  model: z.string().min(1),
  prompt: z.string().optional(),
  suffix: z.string().optional(),
  system: z.string().optional(),
  template: z.string().optional(),
  context: z.array(z.number().int()).optional(),
  stream: z.boolean().optional(),
  raw: z.boolean().optional(),
  format,
  images: z.array(z.string()).optional(),
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
  images: z.array(z.string()).optional(),
  tool_calls: z.array(ToolCallBody).optional(),
  tool_name: z.string().optional(),
  thinking: z.string().optional(),
});

export const ToolBody = z.object({
  type: z.literal('function').default('function'),
  function: z.object({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const ChatBody = z.object({
  model: z.string().min(1),
  messages: z.array(ChatMessageBody).default([]),
  tools: z.array(ToolBody).optional(),
  stream: z.boolean().optional(),
  format,
  options: z.unknown().optional(),
  keep_alive: keepAlive,
  think,
});
export type ChatBody = z.infer<typeof ChatBody>;

export const EmbedBody = z.object({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string())]),
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
