/**
 * Request bodies and queries of the OpenAI vector-store API, as the `openai` SDK sends them.
 * Objects are strict where OpenAI's are: an unknown field is a 400 that names it.
 */
import { z } from 'zod';
import { ChunkingSchema } from '../../knowledge.types';
import { FilterSchema } from '../../retrieval/filters';

const Metadata = z
  .record(z.string().min(1).max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, { message: 'must have at most 16 keys' });

export const Attributes = z
  .record(z.string().min(1).max(64), z.union([z.string().max(512), z.number(), z.boolean()]))
  .refine((a) => Object.keys(a).length <= 16, { message: 'must have at most 16 keys' });

const ExpiresAfter = z
  .object({ anchor: z.literal('last_active_at'), days: z.number().int().min(1).max(365) })
  .strict();

const FileId = z.string().min(1).max(200);

/** Query strings carry text: `limit=20`. */
const Limit = z.coerce.number().int().min(1).max(100);

export const ListQuery = z
  .object({
    limit: Limit.optional(),
    after: z.string().min(1).max(200).optional(),
    before: z.string().min(1).max(200).optional(),
    order: z.enum(['asc', 'desc']).optional(),
  })
  .strict();

export const FileListQuery = ListQuery.extend({ purpose: z.string().min(1).max(64).optional() }).strict();

export const DocumentListQuery = ListQuery.extend({
  filter: z.enum(['in_progress', 'completed', 'failed', 'cancelled']).optional(),
}).strict();

/** Purposes a knowledge-base file may have; the others belong to APIs Corral does not serve. */
export const FILE_PURPOSES = ['assistants', 'user_data'] as const;

/** Corral's extension of a vector store: its retrieval settings, in snake case like the rest. */
export const CorralSettings = z
  .object({
    team_id: z.string().min(1).max(200).optional(),
    embedding_model: z.string().min(1).max(300).nullable().optional(),
    reranker_model: z.string().min(1).max(300).nullable().optional(),
    language: z.string().min(1).max(40).optional(),
    top_k: z.number().int().min(1).max(50).optional(),
    score_threshold: z.number().min(0).optional(),
  })
  .strict();

export const CreateStoreBody = z
  .object({
    name: z.string().max(256).optional(),
    description: z.string().max(2048).optional(),
    file_ids: z.array(FileId).max(500).optional(),
    chunking_strategy: ChunkingSchema.optional(),
    expires_after: ExpiresAfter.optional(),
    metadata: Metadata.nullable().optional(),
    corral: CorralSettings.optional(),
  })
  .strict();

export const UpdateStoreBody = z
  .object({
    name: z.string().max(256).nullable().optional(),
    expires_after: ExpiresAfter.nullable().optional(),
    metadata: Metadata.nullable().optional(),
    corral: CorralSettings.omit({ team_id: true }).optional(),
  })
  .strict();

export const CreateFileBody = z
  .object({
    file_id: FileId,
    attributes: Attributes.nullable().optional(),
    chunking_strategy: ChunkingSchema.optional(),
  })
  .strict();

export const UpdateFileBody = z.object({ attributes: Attributes.nullable() }).strict();

export const CreateBatchBody = z
  .object({
    file_ids: z.array(FileId).min(1).max(2000).optional(),
    files: z
      .array(
        z
          .object({
            file_id: FileId,
            attributes: Attributes.nullable().optional(),
            chunking_strategy: ChunkingSchema.optional(),
          })
          .strict(),
      )
      .min(1)
      .max(2000)
      .optional(),
    attributes: Attributes.nullable().optional(),
    chunking_strategy: ChunkingSchema.optional(),
  })
  .strict()
  .refine((b) => b.file_ids !== undefined || b.files !== undefined, {
    message: 'needs file_ids or files',
  })
  .refine((b) => b.file_ids === undefined || b.files === undefined, {
    message: 'takes file_ids or files, not both',
  });

export const SearchBody = z
  .object({
    query: z.union([z.string().min(1).max(8192), z.array(z.string().min(1).max(8192)).min(1).max(16)], {
      message: 'must be a string or an array of strings',
    }),
    filters: FilterSchema.optional(),
    max_num_results: z.number().int().min(1).max(50).optional(),
    ranking_options: z
      .object({
        ranker: z.enum(['none', 'auto', 'default-2024-11-15']).optional(),
        score_threshold: z.number().min(0).optional(),
        // The Responses tool's form; hybrid weights are the base's own, so they are accepted only.
        hybrid_search: z
          .object({ embedding_weight: z.number(), text_weight: z.number() })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    rewrite_query: z.boolean().optional(),
  })
  .strict();
