/**
 * The job protocol between the gateway and a worker process. One place defines every message and
 * its schema; the producer (gateway scheduler) and the consumer (worker) both validate with these.
 * The embedded deployment carries the messages over the child-process IPC channel; the cluster
 * transport carries the same messages over Redis.
 */
import { z } from 'zod';

/** What the worker needs to load one model instance. */
export const ModelSpecSchema = z.object({
  /** Identity of a loaded instance: same key = same weights, adapters and context settings. */
  key: z.string().min(1),
  /** Display name, e.g. `tiny:latest` (for logs and errors). */
  name: z.string().min(1),
  /** Absolute path of the GGUF weights file. */
  path: z.string().min(1),
  /** GGUF LoRA adapters applied on top of the weights. */
  adapters: z.array(z.object({ path: z.string().min(1), scale: z.number().default(1) })).default([]),
  /** Context length per sequence (Ollama's num_ctx). */
  numCtx: z.number().int().positive(),
  /** Parallel sequences in the one context (continuous batching). */
  numParallel: z.number().int().positive(),
  /** Layers to offload to the GPU; 'auto' lets the worker choose from free memory. Defaults to 'auto'. */
  numGpuLayers: z.union([z.number().int().nonnegative(), z.literal('auto')]).default('auto'),
  /** Logical batch size for prompt processing. Defaults to the worker's choice. */
  numBatch: z.number().int().positive().optional(),
  /** CPU threads for this model; 0 = the worker's default. */
  numThread: z.number().int().nonnegative().default(0),
  useMmap: z.boolean().default(true),
});
export type ModelSpec = z.infer<typeof ModelSpecSchema>;
export type ModelSpecInput = z.input<typeof ModelSpecSchema>;

export const ToolCallSchema = z.object({
  name: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  id: z.string().optional(),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

export const ChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  toolCalls: z.array(ToolCallSchema).optional(),
  /** For role 'tool': the function whose result this is. */
  toolName: z.string().optional(),
  thinking: z.string().optional(),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const ToolDefSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  /** JSON schema of the arguments object. */
  parameters: z.record(z.string(), z.unknown()).optional(),
});
export type ToolDef = z.infer<typeof ToolDefSchema>;

/**
 * The prompt as the worker receives it. `text` is fully rendered by the gateway (Modelfile TEMPLATE or
 * raw); special-token text inside it (e.g. `<|im_start|>`) is parsed as special tokens. `chat` is
 * rendered by the worker with the model's own chat template from its GGUF metadata (Jinja).
 */
export const PromptSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('text'), text: z.string(), addBos: z.boolean().default(true) }),
  z.object({
    kind: z.literal('chat'),
    messages: z.array(ChatMessageSchema).min(1),
    tools: z.array(ToolDefSchema).optional(),
    /** Ask the template to enable the model's reasoning mode, where it has one. */
    think: z.boolean().optional(),
  }),
]);
export type Prompt = z.infer<typeof PromptSchema>;

/** Sampling and stopping. Absent fields take llama.cpp / Ollama defaults. */
export const SamplingSchema = z.object({
  temperature: z.number().min(0).optional(),
  topK: z.number().int().min(0).optional(),
  topP: z.number().min(0).max(1).optional(),
  minP: z.number().min(0).max(1).optional(),
  typicalP: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
  repeatPenalty: z.number().min(0).optional(),
  repeatLastN: z.number().int().min(-1).optional(),
  presencePenalty: z.number().optional(),
  frequencyPenalty: z.number().optional(),
  penalizeNewline: z.boolean().optional(),
  /** Maximum tokens to generate; -1 = until the context is full. */
  numPredict: z.number().int().min(-2).default(-1),
  stop: z.array(z.string()).default([]),
  /** Keep this many prompt tokens when the context overflows (Ollama's num_keep). */
  numKeep: z.number().int().min(0).optional(),
});
export type Sampling = z.infer<typeof SamplingSchema>;
export type SamplingInput = z.input<typeof SamplingSchema>;

/** Grammar-constrained output. */
export const ConstraintSchema = z.discriminatedUnion('type', [
  /** Any JSON value (Ollama `format: "json"`, OpenAI `json_object`). */
  z.object({ type: z.literal('json') }),
  /** JSON valid against this schema. */
  z.object({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) }),
]);
export type Constraint = z.infer<typeof ConstraintSchema>;

/**
 * JSON-schema keywords the worker's grammar (node-llama-cpp's schema-to-GBNF converter) enforces
 * for a `json_schema` constraint. The worker refuses schemas with other constraint keywords rather
 * than half-enforce them; the gateway may loosen non-strict client schemas to this set first.
 */
export const GRAMMAR_SCHEMA_KEYWORDS: ReadonlySet<string> = new Set([
  'type',
  'const',
  'enum',
  'oneOf',
  'anyOf',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'format',
  '$ref',
  '$defs',
]);

// ---- gateway → worker ------------------------------------------------------------------------

export const LoadMsg = z.object({ type: z.literal('load'), id: z.string(), model: ModelSpecSchema });
export const UnloadMsg = z.object({ type: z.literal('unload'), id: z.string(), key: z.string() });
export const GenerateMsg = z.object({
  type: z.literal('generate'),
  id: z.string(),
  model: ModelSpecSchema,
  prompt: PromptSchema,
  sampling: SamplingSchema,
  constraint: ConstraintSchema.optional(),
  /** Return the evaluated token ids in `done.context` (Ollama /api/generate `context`). */
  returnContext: z.boolean().default(false),
});
export const EmbedMsg = z.object({
  type: z.literal('embed'),
  id: z.string(),
  model: ModelSpecSchema,
  inputs: z.array(z.string()).min(1),
  /** Cut inputs longer than the context instead of failing. Defaults to true. */
  truncate: z.boolean().default(true),
});
export const TokenizeMsg = z.object({
  type: z.literal('tokenize'),
  id: z.string(),
  model: ModelSpecSchema,
  text: z.string(),
});
export const CancelMsg = z.object({ type: z.literal('cancel'), id: z.string() });
export const ShutdownMsg = z.object({ type: z.literal('shutdown') });

export const ToWorkerSchema = z.discriminatedUnion('type', [
  LoadMsg,
  UnloadMsg,
  GenerateMsg,
  EmbedMsg,
  TokenizeMsg,
  CancelMsg,
  ShutdownMsg,
]);
export type ToWorker = z.infer<typeof ToWorkerSchema>;
export type ToWorkerInput = z.input<typeof ToWorkerSchema>;
export type GenerateJob = z.infer<typeof GenerateMsg>;
export type EmbedJob = z.infer<typeof EmbedMsg>;

// ---- worker → gateway ------------------------------------------------------------------------

export const WorkerInfoSchema = z.object({
  pid: z.number().int(),
  /** 'cuda' | 'vulkan' | 'metal' | 'cpu' */
  backend: z.enum(['cuda', 'vulkan', 'metal', 'cpu']),
  gpus: z.array(z.object({ name: z.string(), totalBytes: z.number(), freeBytes: z.number() })),
  ramTotalBytes: z.number(),
  ramFreeBytes: z.number(),
  /** llama.cpp threads the worker uses by default. */
  threads: z.number().int(),
  cpuCores: z.number().int(),
});
export type WorkerInfo = z.infer<typeof WorkerInfoSchema>;

export const LoadedModelSchema = z.object({
  key: z.string(),
  /** Bytes of RAM + VRAM the instance holds (weights + context). */
  sizeBytes: z.number(),
  /** Of which on the GPU. */
  vramBytes: z.number(),
  gpuLayers: z.number().int(),
  numCtx: z.number().int(),
  numParallel: z.number().int(),
  loadDurationNs: z.number(),
});
export type LoadedModel = z.infer<typeof LoadedModelSchema>;

export const HelloMsg = z.object({ type: z.literal('hello'), info: WorkerInfoSchema });
export const LoadedMsg = z.object({ type: z.literal('loaded'), id: z.string(), model: LoadedModelSchema });
export const UnloadedMsg = z.object({ type: z.literal('unloaded'), id: z.string(), key: z.string() });
/** A piece of generated text. Several tokens may be coalesced into one chunk. */
export const ChunkMsg = z.object({
  type: z.literal('chunk'),
  id: z.string(),
  text: z.string(),
  tokens: z.number().int().nonnegative(),
});
export const DoneMsg = z.object({
  type: z.literal('done'),
  id: z.string(),
  doneReason: z.enum(['stop', 'length', 'cancelled']),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  /** Prompt tokens reused from the sequence's previous state (prefix cache). */
  cachedTokens: z.number().int().default(0),
  loadDurationNs: z.number(),
  promptEvalDurationNs: z.number(),
  evalDurationNs: z.number(),
  context: z.array(z.number().int()).optional(),
});
export const EmbeddingsMsg = z.object({
  type: z.literal('embeddings'),
  id: z.string(),
  vectors: z.array(z.array(z.number())),
  promptTokens: z.number().int(),
  loadDurationNs: z.number(),
  totalDurationNs: z.number(),
});
export const TokenizedMsg = z.object({
  type: z.literal('tokenized'),
  id: z.string(),
  tokens: z.array(z.number().int()),
});
export const WorkerErrorCode = z.enum([
  'bad_request',
  'model_load_failed',
  'out_of_memory',
  'context_overflow',
  'internal',
]);
export const ErrorMsg = z.object({
  type: z.literal('error'),
  id: z.string(),
  code: WorkerErrorCode,
  message: z.string(),
});

export const FromWorkerSchema = z.discriminatedUnion('type', [
  HelloMsg,
  LoadedMsg,
  UnloadedMsg,
  ChunkMsg,
  DoneMsg,
  EmbeddingsMsg,
  TokenizedMsg,
  ErrorMsg,
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;

/**
 * Liveness, embedded transport only: a forked worker sends one every `CORRAL_WORKER_HEARTBEAT_MS`
 * (1 s) from a timer on its main thread, which keeps running while llama.cpp loads and decodes on
 * other threads. The link consumes it (it never reaches the scheduler); a worker that sends nothing
 * for the stall timeout is declared stuck (worker-link.ts). `jobs`: jobs running, for logs.
 */
export const HeartbeatMsg = z.object({
  type: z.literal('heartbeat'),
  at: z.number(),
  jobs: z.number().int().nonnegative(),
});
export type Heartbeat = z.infer<typeof HeartbeatMsg>;

/** How often a forked worker sends a heartbeat, in ms (the gateway sets it in the worker's env). */
export const HEARTBEAT_ENV = 'CORRAL_WORKER_HEARTBEAT_MS';
export const DEFAULT_HEARTBEAT_MS = 1000;
export type DoneResult = z.infer<typeof DoneMsg>;

/** What a generation yields to the gateway: text chunks, then the final result. */
export type GenerationEvent = { type: 'chunk'; text: string; tokens: number } | DoneResult;

/**
 * A message to a worker, validated: the message, or the error reply that answers it (with the id it
 * carried, when it carried one, so the sender's job fails instead of hanging). `what` names it in
 * the error ("message" from a worker's intake, "job" from a gateway's link).
 */
export function checkToWorker(
  raw: unknown,
  what: 'message' | 'job' = 'message',
): { ok: true; msg: ToWorker } | { ok: false; reply: Extract<FromWorker, { type: 'error' }> } {
  const parsed = ToWorkerSchema.safeParse(raw);
  if (parsed.success) return { ok: true, msg: parsed.data };
  const id = (raw as { id?: unknown } | null)?.id;
  return {
    ok: false,
    reply: {
      type: 'error',
      id: typeof id === 'string' ? id : '',
      code: 'bad_request',
      message: `invalid ${what}: ${parsed.error.message}`,
    },
  };
}
