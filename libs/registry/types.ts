/**
 * Shared registry types: what a parsed Modelfile holds, and what resolving a model name gives the
 * rest of the gateway (prompt building, scheduling, /api/show).
 */

/** One instruction-level view of a Modelfile (Ollama's format). */
export interface Modelfile {
  /** FROM: a path to a GGUF file / Safetensors directory, or the name of an existing model. */
  from: string;
  /** PARAMETER lines, typed per Ollama's parameter table; `stop` accumulates into an array. */
  parameters: Record<string, unknown>;
  template?: string;
  system?: string;
  /** ADAPTER paths (GGUF LoRA), in order. */
  adapters: string[];
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  license: string[];
}

/** Facts read from a GGUF header (no tensor data is read). */
export interface GgufSummary {
  version: number;
  architecture: string;
  /** general.name, when present. */
  name?: string;
  /** general.type: 'model' or 'adapter' (LoRA). */
  type: string;
  contextLength?: number;
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  /** Sum of the elements of all tensors. */
  parameterCount: number;
  /** Human form of the parameter count as Ollama shows it, e.g. "260.03K", "7.2B". */
  parameterSize: string;
  /** general.file_type as Ollama names it, e.g. "F32", "F16", "Q4_K_M". */
  fileType: string;
  /** Jinja chat template from tokenizer.chat_template, when present. */
  chatTemplate?: string;
  tokenizerModel?: string;
  vocabSize?: number;
  /** True for embedding-only models (BERT-family architectures, or a pooling type set). */
  isEmbedding: boolean;
  tensorCount: number;
  fileSize: number;
  /** Metadata as Ollama's /api/show `model_info` shows it (large token arrays left out). */
  modelInfo: Record<string, unknown>;
}

/** A model name resolved to files and settings, ready to run. */
export interface ResolvedModel {
  /** Normalised short name, e.g. `tiny:latest` (host and `library/` namespace omitted as Ollama does). */
  name: string;
  /** Fully qualified name, e.g. `registry.ollama.ai/library/tiny:latest`. */
  fullName: string;
  /** Digest of the manifest file, `sha256:<hex>`. */
  digest: string;
  modelDigest: string;
  /** Absolute path of the GGUF weights blob. */
  modelPath: string;
  adapters: { path: string; digest: string }[];
  /** Modelfile TEMPLATE (Go text/template syntax), when the model has one. */
  template?: string;
  system?: string;
  /** PARAMETER values (Ollama names: temperature, num_ctx, stop, ...). */
  parameters: Record<string, unknown>;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  license: string[];
  gguf: GgufSummary;
  /** Total bytes of all layers. */
  size: number;
  modifiedAt: Date;
  /** Ollama capability names: completion, embedding, tools, insert, thinking. */
  capabilities: string[];
  details: {
    parent_model: string;
    format: string;
    family: string;
    families: string[] | null;
    parameter_size: string;
    quantization_level: string;
  };
}
