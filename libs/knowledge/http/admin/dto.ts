/** Admin API bodies, queries and responses for knowledge bases (camel case, like /admin/v1 quotas). */
import { z } from 'zod';
import type { KbDocument, KnowledgeBase, SearchHit, StoredChunk } from '../../knowledge.types';
import { ChunkingSchema, SettingsSchema } from '../../knowledge.types';
import { FilterSchema } from '../../retrieval/filters';
import type { SearchResult } from '../../knowledge.service';

const Cursor = z.string().min(1).max(200);
const Limit = z.coerce.number().int().min(1).max(100);
const Metadata = z
  .record(z.string().min(1).max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, { message: 'must have at most 16 keys' });

const Page = {
  limit: Limit.optional().describe('Items per page (1–100). Defaults to 20.'),
  after: Cursor.optional().describe('Cursor: the id of the last item of the previous page.'),
  before: Cursor.optional(),
  order: z.enum(['asc', 'desc']).optional().describe('By creation time. Defaults to desc.'),
};

export const ListBasesQuery = z
  .object({ team: z.string().min(1).max(200).optional().describe("Only this team's bases."), ...Page })
  .strict();

export const ListDocumentsQuery = z
  .object({
    status: z.enum(['queued', 'in_progress', 'completed', 'failed', 'cancelled']).optional(),
    ...Page,
  })
  .strict();

export const ChunksQuery = z
  .object({
    limit: Limit.optional().describe('Chunks to return (1–100). Defaults to 20.'),
    offset: z.coerce.number().int().min(0).max(10_000_000).optional().describe('Defaults to 0.'),
  })
  .strict();

const SettingFields = {
  embeddingModel: SettingsSchema.shape.embeddingModel.optional(),
  rerankerModel: SettingsSchema.shape.rerankerModel.optional(),
  chunking: ChunkingSchema.optional(),
  language: SettingsSchema.shape.language.optional(),
  topK: SettingsSchema.shape.topK.optional(),
  scoreThreshold: SettingsSchema.shape.scoreThreshold.optional(),
};

export const CreateBaseBody = z
  .object({
    teamId: z.string().min(1).max(200).optional().describe("The owning team. Defaults to the caller's team."),
    name: z.string().trim().min(1).max(256),
    description: z.string().max(2048).nullable().optional(),
    metadata: Metadata.optional(),
    ...SettingFields,
  })
  .strict();

export const UpdateBaseBody = z
  .object({
    name: z.string().trim().min(1).max(256).optional(),
    description: z.string().max(2048).nullable().optional(),
    metadata: Metadata.optional(),
    ...SettingFields,
  })
  .strict();

export const RetrievalTestBody = z
  .object({
    query: z.string().trim().min(1).max(8192),
    topK: z.number().int().min(1).max(50).optional(),
    scoreThreshold: z.number().min(0).optional(),
    filters: FilterSchema.optional(),
    rerank: z.boolean().optional().describe("false skips the base's reranker. Defaults to true."),
  })
  .strict();

type SettingsPatch = Partial<Pick<z.output<typeof UpdateBaseBody>, keyof typeof SettingFields>>;

/** The settings fields of a body, as a partial KbSettings (absent fields stay unset). */
export function settingsPatch(b: SettingsPatch) {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(SettingFields) as (keyof typeof SettingFields)[])
    if (b[k] !== undefined) out[k] = b[k];
  return out as Partial<z.output<typeof SettingsSchema>>;
}

export function baseOut(b: KnowledgeBase) {
  const busy = b.counts.queued + b.counts.in_progress;
  return {
    id: b.id,
    teamId: b.teamId,
    name: b.name,
    description: b.description,
    metadata: b.metadata,
    settings: b.settings,
    status: b.buildingGeneration !== null ? 'reindexing' : busy > 0 ? 'indexing' : 'ready',
    activeGeneration: b.activeGeneration,
    buildingGeneration: b.buildingGeneration,
    counts: b.counts,
    usageBytes: b.usageBytes,
    createdAt: b.createdAt.toISOString(),
    updatedAt: b.updatedAt.toISOString(),
    lastActiveAt: b.lastActiveAt.toISOString(),
  };
}

export function documentOut(d: KbDocument) {
  return {
    id: d.id,
    kbId: d.kbId,
    teamId: d.teamId,
    filename: d.filename,
    detectedType: d.detectedType,
    bytes: d.bytes,
    sha256: d.sha256,
    attributes: d.attributes,
    batchId: d.batchId,
    status: d.status,
    stage: d.stage,
    reason: d.reason,
    errorCode: d.errorCode,
    pages: d.pages,
    chunkCount: d.chunkCount,
    usageBytes: d.usageBytes,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

export function chunkOut(c: StoredChunk) {
  return {
    id: c.id,
    documentId: c.documentId,
    ordinal: c.ordinal,
    text: c.text,
    headingPath: c.headingPath,
    pageFrom: c.pageFrom,
    pageTo: c.pageTo,
    charStart: c.charStart,
    charEnd: c.charEnd,
    tokenCount: c.tokenCount,
  };
}

export function hitOut(h: SearchHit) {
  return {
    ...chunkOut(h),
    kbId: h.kbId,
    filename: h.filename,
    attributes: h.attributes,
    score: h.score,
    stages: h.stages,
  };
}

export function retrievalOut(query: string, r: SearchResult) {
  return { query, tookMs: r.tookMs, stages: r.stages, hits: r.hits.map(hitOut) };
}
