/** Corral's knowledge types in the `openai` SDK's shapes (seconds since the epoch, snake case). */
import type { Batch, Page } from '../../knowledge.service';
import type { Chunking, KbDocument, KbFile, KnowledgeBase, SearchHit } from '../../knowledge.types';

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

/** OpenAI's list envelope; the SDK's cursor pages read `has_more` and each item's id. */
export function listOf<T extends { id: string }, U extends { id: string }>(page: Page<T>, map: (t: T) => U) {
  const data = page.data.map(map);
  return {
    object: 'list' as const,
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: page.hasMore,
  };
}

export function fileOut(f: KbFile) {
  return {
    id: f.id,
    object: 'file' as const,
    bytes: f.bytes,
    created_at: seconds(f.createdAt),
    filename: f.filename,
    purpose: f.purpose,
    // Bytes are stored on upload; parsing happens per vector store, not per file.
    status: 'processed' as const,
    expires_at: null,
    status_details: null,
  };
}

/** `auto` is what OpenAI reports as static 800/400: what it resolves to. */
export function chunkingOut(c: Chunking) {
  if (c.type === 'static') return { type: 'static' as const, static: c.static };
  return { type: 'static' as const, static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } };
}

export function storeOut(b: KnowledgeBase) {
  const inProgress = b.counts.queued + b.counts.in_progress;
  return {
    id: b.id,
    object: 'vector_store' as const,
    created_at: seconds(b.createdAt),
    name: b.name,
    description: b.description,
    usage_bytes: b.usageBytes,
    file_counts: {
      in_progress: inProgress,
      completed: b.counts.completed,
      failed: b.counts.failed,
      cancelled: b.counts.cancelled,
      total: b.counts.total,
    },
    status: inProgress > 0 ? ('in_progress' as const) : ('completed' as const),
    expires_after: null,
    expires_at: null,
    last_active_at: seconds(b.lastActiveAt),
    metadata: b.metadata,
    corral: {
      team_id: b.teamId,
      embedding_model: b.settings.embeddingModel,
      reranker_model: b.settings.rerankerModel,
      language: b.settings.language,
      top_k: b.settings.topK,
      score_threshold: b.settings.scoreThreshold,
      chunking_strategy: b.settings.chunking,
      generation: b.activeGeneration,
      building_generation: b.buildingGeneration,
    },
  };
}

type LastErrorCode = 'server_error' | 'unsupported_file' | 'invalid_file';

/** The parser's failure kinds (parsing.types.ts) in OpenAI's three codes. */
export function lastErrorCode(code: string | null): LastErrorCode {
  switch (code) {
    case 'server_error':
    case 'unsupported_file':
    case 'invalid_file':
      return code;
    case 'unsupported_type':
    case 'type_mismatch':
      return 'unsupported_file';
    case 'empty':
    case 'too_large':
    case 'corrupt':
    case 'no_text':
    case 'zip_bomb':
      return 'invalid_file';
    case null:
    default:
      return 'server_error';
  }
}

export function documentStatus(
  s: KbDocument['status'],
): 'in_progress' | 'completed' | 'failed' | 'cancelled' {
  switch (s) {
    case 'queued':
    case 'in_progress':
      return 'in_progress';
    case 'completed':
    case 'failed':
    case 'cancelled':
      return s;
  }
}

export function documentOut(d: KbDocument, chunking: Chunking) {
  return {
    id: d.id,
    object: 'vector_store.file' as const,
    created_at: seconds(d.createdAt),
    usage_bytes: d.usageBytes,
    vector_store_id: d.kbId,
    status: documentStatus(d.status),
    last_error:
      d.status === 'failed'
        ? { code: lastErrorCode(d.errorCode), message: d.reason ?? 'the file could not be indexed' }
        : null,
    attributes: d.attributes,
    chunking_strategy: chunkingOut(chunking),
    corral: {
      filename: d.filename,
      detected_type: d.detectedType,
      stage: d.stage,
      pages: d.pages,
      chunk_count: d.chunkCount,
      batch_id: d.batchId,
    },
  };
}

export function batchOut(b: Batch) {
  return {
    id: b.id,
    object: 'vector_store.files_batch' as const,
    created_at: seconds(b.createdAt),
    vector_store_id: b.kbId,
    status: b.status,
    file_counts: { ...b.counts },
  };
}

export function hitOut(h: SearchHit) {
  return {
    file_id: h.documentId,
    filename: h.filename,
    score: h.score,
    attributes: h.attributes,
    content: [{ type: 'text' as const, text: h.text }],
    corral: {
      vector_store_id: h.kbId,
      chunk_id: h.id,
      ordinal: h.ordinal,
      page_from: h.pageFrom,
      page_to: h.pageTo,
      heading_path: h.headingPath,
    },
  };
}
