/**
 * Knowledge-base settings (CORRAL_KB_*), spread into the env schema by schema.ts. Per-base settings
 * (embedding model, chunking, top_k) are data, set through the API.
 */
import { z } from 'zod';

const int = (min: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min));

export const KNOWLEDGE_ENV_KEYS = {
  CORRAL_KB_MAX_FILE_BYTES: 'Largest file /v1/files accepts, in bytes. Defaults to 67108864 (64 MiB).',
  CORRAL_KB_MAX_UNZIPPED_BYTES:
    'Most bytes a DOCX or XLSX may inflate to before it is refused as a zip bomb. Defaults to 268435456 (256 MiB).',
  CORRAL_KB_MAX_PAGES: 'Most pages a PDF may have. Defaults to 5000.',
  CORRAL_KB_INGEST_CONCURRENCY:
    'Documents one gateway ingests at a time (parse, chunk, embed, index). Defaults to 2.',
  CORRAL_KB_PARSE_THREADS: 'Worker threads that parse documents off the event loop. Defaults to 1.',
} as const;

export interface KnowledgeConfig {
  maxFileBytes: number;
  maxUnzippedBytes: number;
  maxPages: number;
  ingestConcurrency: number;
  parseThreads: number;
}

export const KNOWLEDGE_ENV_SCHEMA = {
  CORRAL_KB_MAX_FILE_BYTES: int(1).default(64 * 1024 * 1024),
  CORRAL_KB_MAX_UNZIPPED_BYTES: int(1024).default(256 * 1024 * 1024),
  CORRAL_KB_MAX_PAGES: int(1).default(5000),
  CORRAL_KB_INGEST_CONCURRENCY: int(1).pipe(z.number().max(64)).default(2),
  CORRAL_KB_PARSE_THREADS: int(1).pipe(z.number().max(64)).default(1),
};

export function knowledgeConfig(e: {
  CORRAL_KB_MAX_FILE_BYTES: number;
  CORRAL_KB_MAX_UNZIPPED_BYTES: number;
  CORRAL_KB_MAX_PAGES: number;
  CORRAL_KB_INGEST_CONCURRENCY: number;
  CORRAL_KB_PARSE_THREADS: number;
}): KnowledgeConfig {
  return {
    maxFileBytes: e.CORRAL_KB_MAX_FILE_BYTES,
    maxUnzippedBytes: e.CORRAL_KB_MAX_UNZIPPED_BYTES,
    maxPages: e.CORRAL_KB_MAX_PAGES,
    ingestConcurrency: e.CORRAL_KB_INGEST_CONCURRENCY,
    parseThreads: e.CORRAL_KB_PARSE_THREADS,
  };
}
