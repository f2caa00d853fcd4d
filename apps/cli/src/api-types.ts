/**
 * The parts of Ollama's wire format (docs/api.md) the CLI reads and writes. Kept here rather than
 * imported from the server's DTOs so the CLI stays a plain HTTP client that works against any
 * Ollama-compatible server.
 */
import type { GenerationMetrics } from './format';

export interface Message {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  thinking?: string;
  images?: string[];
}

export type Think = boolean | 'high' | 'medium' | 'low';

export interface ChatRequest {
  model: string;
  messages: Message[];
  format?: string | object;
  options?: Record<string, unknown>;
  keep_alive?: string | number;
  think?: Think;
  stream?: boolean;
}

export interface ChatResponse extends GenerationMetrics {
  model: string;
  created_at?: string;
  message?: Message;
  done: boolean;
  done_reason?: string;
}

export interface GenerateRequest {
  model: string;
  prompt?: string;
  system?: string;
  format?: string | object;
  options?: Record<string, unknown>;
  keep_alive?: string | number;
  think?: Think;
  stream?: boolean;
}

export interface GenerateResponse extends GenerationMetrics {
  model: string;
  response?: string;
  thinking?: string;
  done: boolean;
  done_reason?: string;
}

export interface CreateRequest {
  model: string;
  from?: string;
  files?: Record<string, string>;
  adapters?: Record<string, string>;
  template?: string;
  license?: string | string[];
  system?: string;
  parameters?: Record<string, unknown>;
  messages?: Message[];
  quantize?: string;
  stream?: boolean;
}

export interface ProgressResponse {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

export interface ModelDetails {
  parent_model?: string;
  format?: string;
  family?: string;
  families?: string[] | null;
  parameter_size?: string;
  quantization_level?: string;
}

export interface ListModel {
  name: string;
  model: string;
  modified_at: string;
  size: number;
  digest: string;
  details?: ModelDetails;
}

export interface ListResponse {
  models: ListModel[];
}

export interface PsModel {
  name: string;
  model: string;
  size: number;
  digest: string;
  details?: ModelDetails;
  expires_at?: string;
  size_vram?: number;
  context_length?: number;
}

export interface PsResponse {
  models: PsModel[];
}

export interface ShowResponse {
  license?: string;
  modelfile?: string;
  parameters?: string;
  template?: string;
  system?: string;
  details?: ModelDetails;
  messages?: Message[];
  model_info?: Record<string, unknown>;
  projector_info?: Record<string, unknown>;
  tensors?: { name: string; type: string; shape: number[] }[];
  capabilities?: string[];
  modified_at?: string;
}
