/**
 * The knowledge-base feature's one entry for the HTTP layers (OpenAI vector stores, admin API,
 * grounded chat): files, bases, documents, batches and search, always on behalf of an actor whose
 * team roles bound what it may touch. Another team's base, document, file or chunk is "not found"
 * (404), never "forbidden": the team filter is part of every query (./store), so a row of another
 * team is never read in the first place.
 */
import { Injectable } from '@nestjs/common';
import type {
  KbDocument,
  KbFile,
  KnowledgeBase,
  KbSettings,
  SearchHit,
  StoredChunk,
} from './knowledge.types';
import type { Filter } from './retrieval/filters';

/** Who acts: from the request's principal (`actorOf(principal)`). */
export interface KbActor {
  /** Global admins see and change every team's bases. */
  admin: boolean;
  /** Team → role; owners and members write, viewers read. */
  teamRoles: Readonly<Record<string, 'owner' | 'member' | 'viewer'>>;
  /** The team new objects belong to when the caller names none (an API key's team). */
  defaultTeam: string | null;
  userId: string | null;
  keyId: string | null;
}

export interface Page<T> {
  data: T[];
  hasMore: boolean;
}

export interface ListOptions {
  limit?: number;
  /** Cursor: the id of the last item of the previous page. */
  after?: string;
  before?: string;
  order?: 'asc' | 'desc';
}

export interface NewBase {
  /** The owning team; defaults to the actor's default team. */
  teamId?: string;
  name?: string;
  description?: string | null;
  metadata?: Record<string, string>;
  settings?: Partial<KbSettings>;
  /** Files to add right away (each becomes a queued document). */
  fileIds?: string[];
}

export interface BatchInput {
  fileIds?: string[];
  files?: {
    fileId: string;
    attributes?: Record<string, string | number | boolean>;
    chunking?: KbSettings['chunking'];
  }[];
  attributes?: Record<string, string | number | boolean>;
  chunking?: KbSettings['chunking'];
}

export interface Batch {
  id: string;
  kbId: string;
  createdAt: Date;
  status: 'in_progress' | 'completed' | 'cancelled' | 'failed';
  counts: { in_progress: number; completed: number; failed: number; cancelled: number; total: number };
}

export interface SearchOptions {
  query: string;
  topK?: number;
  scoreThreshold?: number;
  filter?: Filter;
  /** `false` skips the reranker even when the base has one (OpenAI's ranker: none). */
  rerank?: boolean;
  /** Keep the query and its results in the base's retrieval-test log. */
  log?: boolean;
}

export interface SearchResult {
  hits: SearchHit[];
  /** Which retrievers ran ('bm25', 'vector', 'rerank') and how long each took, in ms. */
  stages: { name: string; ms: number; candidates: number }[];
  tookMs: number;
}

@Injectable()
export abstract class KnowledgeApi {
  // Files (/v1/files, purpose `assistants`): bytes kept in the database.
  abstract uploadFile(
    actor: KbActor,
    file: { filename: string; purpose: string; bytes: Buffer; teamId?: string },
  ): Promise<KbFile>;
  abstract listFiles(actor: KbActor, opts: ListOptions & { purpose?: string }): Promise<Page<KbFile>>;
  abstract getFile(actor: KbActor, id: string): Promise<KbFile>;
  abstract fileContent(actor: KbActor, id: string): Promise<{ file: KbFile; bytes: Buffer }>;
  abstract deleteFile(actor: KbActor, id: string): Promise<void>;

  // Bases (/v1/vector_stores, /admin/v1/knowledge-bases).
  abstract createBase(actor: KbActor, input: NewBase): Promise<KnowledgeBase>;
  abstract listBases(actor: KbActor, opts: ListOptions & { teamId?: string }): Promise<Page<KnowledgeBase>>;
  abstract getBase(actor: KbActor, id: string): Promise<KnowledgeBase>;
  /** Changing embedding model, chunking or language starts a new index generation (see reindex). */
  abstract updateBase(
    actor: KbActor,
    id: string,
    patch: {
      name?: string;
      description?: string | null;
      metadata?: Record<string, string>;
      settings?: Partial<KbSettings>;
    },
  ): Promise<KnowledgeBase>;
  /** Rebuilds the index in a new generation in the background; queries use the current one until it is complete. */
  abstract reindex(actor: KbActor, id: string): Promise<KnowledgeBase>;
  abstract deleteBase(actor: KbActor, id: string): Promise<void>;

  // Documents (/v1/vector_stores/{id}/files): id = the file id.
  abstract addDocument(
    actor: KbActor,
    kbId: string,
    input: {
      fileId: string;
      attributes?: Record<string, string | number | boolean>;
      chunking?: KbSettings['chunking'];
    },
  ): Promise<KbDocument>;
  abstract listDocuments(
    actor: KbActor,
    kbId: string,
    opts: ListOptions & { status?: KbDocument['status']; batchId?: string },
  ): Promise<Page<KbDocument>>;
  abstract getDocument(actor: KbActor, kbId: string, documentId: string): Promise<KbDocument>;
  abstract updateAttributes(
    actor: KbActor,
    kbId: string,
    documentId: string,
    attributes: Record<string, string | number | boolean>,
  ): Promise<KbDocument>;
  /** Cancels its jobs and removes every chunk and vector; the file itself stays. */
  abstract deleteDocument(actor: KbActor, kbId: string, documentId: string): Promise<void>;
  abstract chunks(
    actor: KbActor,
    kbId: string,
    documentId: string,
    opts: { limit?: number; offset?: number },
  ): Promise<StoredChunk[]>;

  // Batches (/v1/vector_stores/{id}/file_batches).
  abstract createBatch(actor: KbActor, kbId: string, input: BatchInput): Promise<Batch>;
  abstract getBatch(actor: KbActor, kbId: string, batchId: string): Promise<Batch>;
  abstract cancelBatch(actor: KbActor, kbId: string, batchId: string): Promise<Batch>;

  // Retrieval.
  abstract search(actor: KbActor, kbIds: string[], opts: SearchOptions): Promise<SearchResult>;
}
