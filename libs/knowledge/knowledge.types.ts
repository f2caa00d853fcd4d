/**
 * What a knowledge base is, as the rest of Corral sees it: settings, documents, chunks and search
 * hits. Rows are mapped to these in ./store; the HTTP layers map these to their own shapes.
 */
import { z } from 'zod';

/** OpenAI's chunking_strategy (`auto`, or `static` with max/overlap tokens). */
export const ChunkingSchema = z.union([
  z.object({ type: z.literal('auto') }).strict(),
  z
    .object({
      type: z.literal('static'),
      static: z
        .object({
          max_chunk_size_tokens: z.number().int().min(100).max(4096),
          chunk_overlap_tokens: z.number().int().min(0),
        })
        .strict()
        .refine((s) => s.chunk_overlap_tokens <= s.max_chunk_size_tokens / 2, {
          message: 'chunk_overlap_tokens must not exceed half of max_chunk_size_tokens',
        }),
    })
    .strict(),
]);
export type Chunking = z.infer<typeof ChunkingSchema>;

/** Per-base settings (defaults in DEFAULT_SETTINGS). */
export const SettingsSchema = z
  .object({
    /** A registry model with the embedding capability; null = lexical (BM25) retrieval only. */
    embeddingModel: z.string().min(1).max(300).nullable(),
    /** A GGUF reranker run through node-llama-cpp's ranking context; null = none. */
    rerankerModel: z.string().min(1).max(300).nullable(),
    chunking: ChunkingSchema,
    /** A PostgreSQL text search configuration (english, german, …); `simple` for any other language. */
    language: z
      .string()
      .regex(/^[a-z_]{2,40}$/, 'language must be a text search configuration name such as english or simple'),
    topK: z.number().int().min(1).max(50),
    scoreThreshold: z.number().min(0),
    /** Chunks each retriever hands to fusion (BM25 top-N, vector top-N). */
    candidates: z.number().int().min(1).max(1000),
  })
  .strict();
export type KbSettings = z.infer<typeof SettingsSchema>;

export const DEFAULT_SETTINGS: KbSettings = {
  embeddingModel: null,
  rerankerModel: null,
  chunking: { type: 'auto' },
  language: 'english',
  topK: 8,
  scoreThreshold: 0,
  candidates: 100,
};

export type DocumentStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled';
export type Stage = 'parse' | 'chunk' | 'embed' | 'index';

export interface KnowledgeBase {
  id: string;
  teamId: string;
  name: string;
  description: string | null;
  metadata: Record<string, string>;
  settings: KbSettings;
  activeGeneration: number;
  /** The generation being built (a settings change), when one is. */
  buildingGeneration: number | null;
  createdAt: Date;
  updatedAt: Date;
  lastActiveAt: Date;
  counts: {
    queued: number;
    in_progress: number;
    completed: number;
    failed: number;
    cancelled: number;
    total: number;
  };
  usageBytes: number;
}

export interface KbFile {
  id: string;
  teamId: string;
  filename: string;
  purpose: string;
  bytes: number;
  sha256: string;
  createdAt: Date;
}

export interface KbDocument {
  id: string;
  kbId: string;
  teamId: string;
  filename: string;
  detectedType: string | null;
  bytes: number;
  sha256: string;
  attributes: Record<string, string | number | boolean>;
  batchId: string | null;
  status: DocumentStatus;
  stage: Stage | null;
  reason: string | null;
  errorCode: string | null;
  pages: number | null;
  chunkCount: number;
  usageBytes: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface StoredChunk {
  id: string;
  documentId: string;
  ordinal: number;
  text: string;
  headingPath: string[];
  pageFrom: number | null;
  pageTo: number | null;
  charStart: number;
  charEnd: number;
  tokenCount: number;
}

/** One retrieved chunk with where it came from and how it ranked at each stage. */
export interface SearchHit extends StoredChunk {
  kbId: string;
  filename: string;
  attributes: Record<string, string | number | boolean>;
  /** The final score (after fusion and reranking), higher is better. */
  score: number;
  /** Ranks (1-based) and scores per stage, for the retrieval-test view. */
  stages: {
    bm25?: { rank: number; score: number };
    vector?: { rank: number; score: number };
    fused?: { rank: number; score: number };
    rerank?: { rank: number; score: number };
  };
}
