/** The body of POST /v1/chat/completions, as far as Corral reads it. Unknown fields are ignored. */
import { z } from 'zod';
import { MAX_MESSAGES, MAX_NUM_PREDICT, MAX_TOOLS, jsonShapeProblem } from '@corral/worker-protocol';
import { groundingSchema } from '@corral/knowledge';
import { SamplingFields } from './common.dto';

/** A JSON schema, bounded in depth and size: the grammar converters recurse over it. */
const JsonSchema = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  const problem = jsonShapeProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Content parts are checked loosely here and one by one in the mapper, so that an image part gets
 * the specific "does not support images" error rather than a generic schema failure.
 */
export const ContentPartSchema = z.looseObject({
  type: z.string(),
  text: z.string().optional(),
});
export type ContentPart = z.infer<typeof ContentPartSchema>;

const Content = z.union([z.string(), z.array(ContentPartSchema)], {
  error: 'must be a string or an array of content parts',
});

export const ToolCallInSchema = z.object({
  id: z.string().nullish(),
  type: z.literal('function').nullish(),
  function: z.object({
    name: z.string().min(1),
    /** A JSON string, as the model produced it (OpenAI never parses it for you). */
    arguments: z.union([z.string(), z.record(z.string(), z.unknown())]).nullish(),
  }),
});

const SystemMessage = z.object({
  role: z.enum(['system', 'developer']),
  content: Content,
  name: z.string().nullish(),
});
const UserMessage = z.object({ role: z.literal('user'), content: Content, name: z.string().nullish() });
const AssistantMessage = z.object({
  role: z.literal('assistant'),
  content: Content.nullish(),
  name: z.string().nullish(),
  refusal: z.string().nullish(),
  tool_calls: z.array(ToolCallInSchema).nullish(),
  /** Reasoning text some clients echo back (Ollama's `reasoning`, DeepSeek's `reasoning_content`). */
  reasoning: z.string().nullish(),
  reasoning_content: z.string().nullish(),
});
const ToolMessage = z.object({ role: z.literal('tool'), content: Content, tool_call_id: z.string() });
/** Deprecated by OpenAI in favour of `tool`, still sent by older clients. */
const FunctionMessage = z.object({
  role: z.literal('function'),
  content: z.string().nullable(),
  name: z.string(),
});

export const ChatMessageInSchema = z.discriminatedUnion(
  'role',
  [SystemMessage, UserMessage, AssistantMessage, ToolMessage, FunctionMessage],
  { error: "must be one of 'system', 'developer', 'user', 'assistant', 'tool', 'function'" },
);
export type ChatMessageIn = z.infer<typeof ChatMessageInSchema>;

export const ToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().min(1),
    description: z.string().nullish(),
    parameters: JsonSchema.nullish(),
    strict: z.boolean().nullish(),
  }),
});
export type ToolIn = z.infer<typeof ToolSchema>;

export const ToolChoiceSchema = z.union(
  [
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
  ],
  { error: 'must be \'none\', \'auto\', \'required\' or {"type": "function", "function": {"name": ...}}' },
);
export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

export const ResponseFormatSchema = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('text') }),
    z.object({ type: z.literal('json_object') }),
    z.object({
      type: z.literal('json_schema'),
      json_schema: z.object({
        name: z.string().min(1),
        description: z.string().nullish(),
        schema: JsonSchema.nullish(),
        strict: z.boolean().nullish(),
      }),
    }),
  ],
  { error: "type must be one of 'text', 'json_object', 'json_schema'" },
);
export type ResponseFormat = z.infer<typeof ResponseFormatSchema>;

export const ChatRequestSchema = z.object({
  ...SamplingFields,
  messages: z.array(ChatMessageInSchema).min(1).max(MAX_MESSAGES),
  max_completion_tokens: z.number().int().min(1).max(MAX_NUM_PREDICT).nullish(),
  tools: z.array(ToolSchema).max(MAX_TOOLS).nullish(),
  tool_choice: ToolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: ResponseFormatSchema.nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().nullish(),
  /** Corral's extension: ground the answer on knowledge bases (libs/knowledge/grounding). */
  knowledge: groundingSchema.nullish(),
});
export type ChatRequest = z.infer<typeof ChatRequestSchema>;
