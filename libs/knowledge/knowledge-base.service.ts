/**
 * KnowledgeApi over the database: validation, team checks and the orchestration of generations.
 * SQL lives in ./store and ./retrieval; documents are ingested by ./ingest's runner.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { z } from 'zod';
import type { DataSource } from 'typeorm';
import { CorralError } from '@corral/common';
import type { KnowledgeConfig } from '@corral/config';
import {
  KnowledgeApi,
  type Batch,
  type BatchInput,
  type KbActor,
  type ListOptions,
  type NewBase,
  type Page,
  type SearchOptions,
  type SearchResult,
} from './knowledge.service';
import {
  ChunkingSchema,
  DEFAULT_SETTINGS,
  SettingsSchema,
  type KbDocument,
  type KbFile,
  type KbSettings,
  type KnowledgeBase,
  type SearchHit,
  type StoredChunk,
} from './knowledge.types';
import type { Embedder } from './ingest/embedder';
import type { IngestRunner } from './ingest/ingest.runner';
import { newBaseId, newBatchId, newFileId } from './store/ids';
import { KnowledgeRepository, type PageQuery } from './store/knowledge.repository';
import { canWrite, readableTeams, writableTeams } from './store/scope';
import { denseSearch } from './retrieval/dense';
import { reciprocalRankFusion } from './retrieval/fusion';
import { lexicalSearch, type RankedId } from './retrieval/lexical';

const notFound = (what: string) => new CorralError('not_found', `${what} not found`);

const Attributes = z
  .record(z.string().min(1).max(64), z.union([z.string().max(512), z.number(), z.boolean()]))
  .refine((a) => Object.keys(a).length <= 16, { message: 'at most 16 attributes' });

function parse<T>(schema: z.ZodType<T>, value: unknown, param: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = [param, ...(issue?.path ?? [])].filter((x) => x !== '').join('.');
  throw new CorralError('bad_request', `${path}: ${issue?.message ?? 'invalid'}`, param);
}

/** A client's filename is a label only: no directories, no control characters, bounded. */
export function cleanFilename(name: string): string {
  const printable = [...name.replace(/\\/g, '/')]
    .filter((ch) => ch.charCodeAt(0) > 0x1f && ch !== '\u007f')
    .join('');
  const base = basename(printable).trim();
  return (base || 'upload').slice(0, 255);
}

function page(o: ListOptions): PageQuery {
  const limit = o.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new CorralError('bad_request', 'limit must be a whole number from 1 to 100', 'limit');
  }
  return { limit, after: o.after, before: o.before, order: o.order ?? 'desc' };
}

function paged<T>(rows: T[], limit: number): Page<T> {
  return { data: rows.slice(0, limit), hasMore: rows.length > limit };
}

export class KnowledgeBaseService extends KnowledgeApi {
  readonly repo: KnowledgeRepository;

  constructor(
    private readonly ds: DataSource,
    private readonly config: KnowledgeConfig,
    private readonly embedder: Embedder,
    private readonly runner: IngestRunner | undefined,
    private readonly hasVectors: boolean,
  ) {
    super();
    this.repo = new KnowledgeRepository(ds);
  }

  private teamFor(actor: KbActor, teamId: string | undefined, what: string): string {
    const team = teamId ?? actor.defaultTeam;
    if (!team) {
      throw new CorralError(
        'bad_request',
        `say which team the ${what} belongs to (team_id): this caller is in several or none`,
        'team_id',
      );
    }
    if (!actor.admin && actor.teamRoles[team] === undefined) throw notFound('team');
    if (!canWrite(actor, team))
      throw new CorralError('forbidden', `a viewer of team ${team} cannot create a ${what}`);
    return team;
  }

  // --- files ---------------------------------------------------------------------------------

  async uploadFile(
    actor: KbActor,
    f: { filename: string; purpose: string; bytes: Buffer; teamId?: string },
  ): Promise<KbFile> {
    const teamId = this.teamFor(actor, f.teamId, 'file');
    if (f.bytes.length > this.config.maxFileBytes) {
      throw new CorralError(
        'payload_too_large',
        `the file is ${f.bytes.length} bytes; the limit is ${this.config.maxFileBytes}`,
        'file',
      );
    }
    return this.repo.insertFile({
      id: newFileId(),
      teamId,
      filename: cleanFilename(f.filename),
      purpose: f.purpose,
      bytes: f.bytes.length,
      sha256: createHash('sha256').update(f.bytes).digest('hex'),
      content: f.bytes,
      createdAt: new Date(),
      createdBy: actor.userId ?? actor.keyId,
    });
  }

  async listFiles(actor: KbActor, o: ListOptions & { purpose?: string }): Promise<Page<KbFile>> {
    const p = page(o);
    return paged(await this.repo.listFiles(readableTeams(actor), p, o.purpose), p.limit);
  }

  async getFile(actor: KbActor, id: string): Promise<KbFile> {
    return (await this.repo.getFile(readableTeams(actor), id)) ?? Promise.reject(notFound('file'));
  }

  async fileContent(actor: KbActor, id: string): Promise<{ file: KbFile; bytes: Buffer }> {
    const teams = readableTeams(actor);
    const file = await this.repo.getFile(teams, id);
    const bytes = file && (await this.repo.fileBytes(teams, id));
    if (!file || !bytes) throw notFound('file');
    return { file, bytes };
  }

  async deleteFile(actor: KbActor, id: string): Promise<void> {
    const file = await this.repo.getFile(readableTeams(actor), id);
    if (!file) throw notFound('file');
    if (!canWrite(actor, file.teamId)) throw new CorralError('forbidden', 'a viewer cannot delete files');
    await this.repo.deleteFile(writableTeams(actor), id);
  }

  // --- bases ---------------------------------------------------------------------------------

  private async settingsFrom(base: KbSettings, patch: Partial<KbSettings> | undefined): Promise<KbSettings> {
    const s = parse(SettingsSchema, { ...base, ...(patch ?? {}) }, 'settings');
    if (s.rerankerModel !== null) {
      // Refused rather than stored and ignored: see docs/knowledge.md, "Reranking".
      throw new CorralError(
        'unsupported',
        'reranking is not available in this version of Corral yet; leave reranker_model unset',
        'reranker_model',
      );
    }
    const cfg = (await this.ds.query(`SELECT 1 FROM pg_ts_config WHERE cfgname = $1`, [
      s.language,
    ])) as unknown[];
    if (!cfg.length) {
      throw new CorralError(
        'bad_request',
        `language '${s.language}' has no text search configuration here; use simple for any language`,
        'language',
      );
    }
    return s;
  }

  private async generationFor(s: KbSettings) {
    if (!s.embeddingModel) return { embeddingModel: null, modelDigest: null, dimension: null };
    if (!this.hasVectors) {
      throw new CorralError(
        'unsupported',
        'this database has no pgvector extension, so a knowledge base cannot use an embedding model (docs/knowledge.md)',
        'embedding_model',
      );
    }
    const m = await this.embedder.describe(s.embeddingModel);
    return { embeddingModel: m.name, modelDigest: m.digest, dimension: m.dimension };
  }

  async createBase(actor: KbActor, input: NewBase): Promise<KnowledgeBase> {
    const teamId = this.teamFor(actor, input.teamId, 'knowledge base');
    const settings = await this.settingsFrom(DEFAULT_SETTINGS, input.settings);
    const gen = await this.generationFor(settings);
    if (gen.embeddingModel) settings.embeddingModel = gen.embeddingModel;
    const metadata = parse(
      z.record(z.string().max(64), z.string().max(512)),
      input.metadata ?? {},
      'metadata',
    );
    const id = newBaseId();
    const files = await Promise.all((input.fileIds ?? []).map((f) => this.fileOfTeam(teamId, f)));
    await this.repo.transaction(async (m) => {
      await this.repo.insertBase(
        m,
        {
          id,
          teamId,
          name: (input.name ?? '').slice(0, 256),
          description: input.description ?? null,
          metadata,
          settings,
          createdBy: actor.userId ?? actor.keyId,
        },
        gen,
      );
      for (const file of files) {
        await this.repo.upsertDocument(m, {
          kbId: id,
          teamId,
          file,
          attributes: {},
          chunking: null,
          batchId: null,
        });
      }
    });
    this.runner?.notify();
    return this.getBase(actor, id);
  }

  async listBases(actor: KbActor, o: ListOptions & { teamId?: string }): Promise<Page<KnowledgeBase>> {
    const p = page(o);
    return paged(await this.repo.listBases(readableTeams(actor), p, o.teamId), p.limit);
  }

  async getBase(actor: KbActor, id: string): Promise<KnowledgeBase> {
    return (await this.repo.getBase(readableTeams(actor), id)) ?? Promise.reject(notFound('knowledge base'));
  }

  private async writableBase(actor: KbActor, id: string): Promise<KnowledgeBase> {
    const base = await this.getBase(actor, id);
    if (!canWrite(actor, base.teamId))
      throw new CorralError('forbidden', 'a viewer cannot change this knowledge base');
    return base;
  }

  async updateBase(
    actor: KbActor,
    id: string,
    patch: {
      name?: string;
      description?: string | null;
      metadata?: Record<string, string>;
      settings?: Partial<KbSettings>;
    },
  ): Promise<KnowledgeBase> {
    const base = await this.writableBase(actor, id);
    const settings = await this.settingsFrom(base.settings, patch.settings);
    const rebuild =
      settings.embeddingModel !== base.settings.embeddingModel ||
      settings.language !== base.settings.language ||
      JSON.stringify(settings.chunking) !== JSON.stringify(base.settings.chunking);
    const gen = rebuild ? await this.generationFor(settings) : undefined;
    if (gen?.embeddingModel) settings.embeddingModel = gen.embeddingModel;
    const metadata = patch.metadata
      ? parse(z.record(z.string().max(64), z.string().max(512)), patch.metadata, 'metadata')
      : base.metadata;
    await this.repo.transaction(async (m) => {
      await m.query(`SELECT id FROM knowledge_bases WHERE id = $1 FOR UPDATE`, [id]);
      await this.repo.updateBase(m, id, {
        name: patch.name !== undefined ? patch.name.slice(0, 256) : base.name,
        description: patch.description !== undefined ? patch.description : base.description,
        metadata,
        settings,
      });
      if (gen) await this.startGeneration(m, base, settings, gen);
    });
    if (gen) await this.settleEmptyGeneration(id);
    this.runner?.notify();
    return this.getBase(actor, id);
  }

  async reindex(actor: KbActor, id: string): Promise<KnowledgeBase> {
    const base = await this.writableBase(actor, id);
    const gen = await this.generationFor(base.settings);
    await this.repo.transaction(async (m) => {
      await m.query(`SELECT id FROM knowledge_bases WHERE id = $1 FOR UPDATE`, [id]);
      await this.startGeneration(m, base, base.settings, gen);
    });
    await this.settleEmptyGeneration(id);
    this.runner?.notify();
    return this.getBase(actor, id);
  }

  /** A new generation, with one job per document; an unfinished earlier rebuild is abandoned. */
  private async startGeneration(
    m: Parameters<Parameters<KnowledgeRepository['transaction']>[0]>[0],
    base: KnowledgeBase,
    settings: KbSettings,
    gen: { embeddingModel: string | null; modelDigest: string | null; dimension: number | null },
  ): Promise<void> {
    const stale = (await m.query(
      `SELECT generation FROM kb_generations WHERE kb_id = $1 AND status = 'building'`,
      [base.id],
    )) as {
      generation: number;
    }[];
    for (const s of stale) {
      await m.query(`UPDATE kb_generations SET status = 'failed' WHERE kb_id = $1 AND generation = $2`, [
        base.id,
        s.generation,
      ]);
      await m.query(`DELETE FROM kb_jobs WHERE kb_id = $1 AND generation = $2`, [base.id, s.generation]);
      await m.query(`DELETE FROM kb_chunks WHERE kb_id = $1 AND generation = $2`, [base.id, s.generation]);
    }
    const next = await this.repo.nextGeneration(m, base.id);
    await this.repo.insertGeneration(m, base.id, next, base.teamId, 'building', settings, gen);
    const docs = (await m.query(
      `SELECT id, sha256 FROM kb_documents WHERE kb_id = $1 AND status <> 'cancelled'`,
      [base.id],
    )) as {
      id: string;
      sha256: string;
    }[];
    for (const d of docs) await this.repo.queueJob(m, base.teamId, base.id, d.id, next, d.sha256);
  }

  private async settleEmptyGeneration(id: string): Promise<void> {
    const rows = (await this.ds.query(
      `SELECT max(generation) AS g FROM kb_generations WHERE kb_id = $1 AND status = 'building'`,
      [id],
    )) as {
      g: number | null;
    }[];
    if (rows[0]?.g) await this.repo.switchIfBuilt(id, Number(rows[0].g));
  }

  async deleteBase(actor: KbActor, id: string): Promise<void> {
    await this.writableBase(actor, id);
    if (!(await this.repo.deleteBase(writableTeams(actor), id))) throw notFound('knowledge base');
  }

  // --- documents -----------------------------------------------------------------------------

  private async fileOfTeam(teamId: string, fileId: string): Promise<KbFile> {
    const file = await this.repo.getFile([teamId], fileId);
    if (!file) throw new CorralError('not_found', `file ${fileId} not found`, 'file_id');
    return file;
  }

  async addDocument(
    actor: KbActor,
    kbId: string,
    input: {
      fileId: string;
      attributes?: Record<string, string | number | boolean>;
      chunking?: KbSettings['chunking'];
    },
  ): Promise<KbDocument> {
    const base = await this.writableBase(actor, kbId);
    const file = await this.fileOfTeam(base.teamId, input.fileId);
    const attributes = parse(Attributes, input.attributes ?? {}, 'attributes');
    const chunking = input.chunking ? parse(ChunkingSchema, input.chunking, 'chunking_strategy') : null;
    const doc = await this.repo.transaction((m) =>
      this.repo.upsertDocument(m, { kbId, teamId: base.teamId, file, attributes, chunking, batchId: null }),
    );
    this.runner?.notify();
    return doc;
  }

  async listDocuments(
    actor: KbActor,
    kbId: string,
    o: ListOptions & { status?: KbDocument['status']; batchId?: string },
  ): Promise<Page<KbDocument>> {
    await this.getBase(actor, kbId);
    const p = page(o);
    return paged(
      await this.repo.listDocuments(readableTeams(actor), kbId, p, { status: o.status, batchId: o.batchId }),
      p.limit,
    );
  }

  async getDocument(actor: KbActor, kbId: string, documentId: string): Promise<KbDocument> {
    return (
      (await this.repo.getDocument(readableTeams(actor), kbId, documentId)) ??
      Promise.reject(notFound('file'))
    );
  }

  async updateAttributes(
    actor: KbActor,
    kbId: string,
    documentId: string,
    attributes: Record<string, string | number | boolean>,
  ): Promise<KbDocument> {
    await this.writableBase(actor, kbId);
    const a = parse(Attributes, attributes, 'attributes');
    return (
      (await this.repo.setAttributes(writableTeams(actor), kbId, documentId, a)) ??
      Promise.reject(notFound('file'))
    );
  }

  async deleteDocument(actor: KbActor, kbId: string, documentId: string): Promise<void> {
    await this.writableBase(actor, kbId);
    if (!(await this.repo.deleteDocument(writableTeams(actor), kbId, documentId))) throw notFound('file');
  }

  async chunks(
    actor: KbActor,
    kbId: string,
    documentId: string,
    o: { limit?: number; offset?: number },
  ): Promise<StoredChunk[]> {
    const base = await this.getBase(actor, kbId);
    await this.getDocument(actor, kbId, documentId);
    const limit = Math.min(Math.max(o.limit ?? 50, 1), 500);
    return this.repo.chunks(
      readableTeams(actor),
      kbId,
      documentId,
      base.activeGeneration,
      limit,
      Math.max(o.offset ?? 0, 0),
    );
  }

  // --- batches -------------------------------------------------------------------------------

  async createBatch(actor: KbActor, kbId: string, input: BatchInput): Promise<Batch> {
    const base = await this.writableBase(actor, kbId);
    const items = [
      ...(input.fileIds ?? []).map((fileId) => ({
        fileId,
        attributes: input.attributes,
        chunking: input.chunking,
      })),
      ...(input.files ?? []),
    ];
    if (items.length === 0)
      throw new CorralError('bad_request', 'a batch needs file_ids or files', 'file_ids');
    if (items.length > 2000)
      throw new CorralError('bad_request', 'a batch holds at most 2000 files', 'file_ids');
    const prepared = await Promise.all(
      items.map(async (it) => ({
        file: await this.fileOfTeam(base.teamId, it.fileId),
        attributes: parse(Attributes, it.attributes ?? {}, 'attributes'),
        chunking: it.chunking ? parse(ChunkingSchema, it.chunking, 'chunking_strategy') : null,
      })),
    );
    const batchId = newBatchId();
    await this.repo.transaction(async (m) => {
      for (const p of prepared) {
        await this.repo.upsertDocument(m, {
          kbId,
          teamId: base.teamId,
          file: p.file,
          attributes: p.attributes,
          chunking: p.chunking,
          batchId,
        });
      }
    });
    this.runner?.notify();
    return this.getBatch(actor, kbId, batchId);
  }

  async getBatch(actor: KbActor, kbId: string, batchId: string): Promise<Batch> {
    await this.getBase(actor, kbId);
    const { counts, createdAt } = await this.repo.batchCounts(readableTeams(actor), kbId, batchId);
    if (!createdAt) throw notFound('file batch');
    const c = {
      in_progress: (counts.queued ?? 0) + (counts.in_progress ?? 0),
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      cancelled: counts.cancelled ?? 0,
      total: 0,
    };
    c.total = c.in_progress + c.completed + c.failed + c.cancelled;
    const status: Batch['status'] =
      c.in_progress > 0 ? 'in_progress' : c.cancelled > 0 ? 'cancelled' : 'completed';
    return { id: batchId, kbId, createdAt, status, counts: c };
  }

  async cancelBatch(actor: KbActor, kbId: string, batchId: string): Promise<Batch> {
    await this.writableBase(actor, kbId);
    await this.getBatch(actor, kbId, batchId);
    await this.repo.cancelDocuments(writableTeams(actor), kbId, batchId);
    return this.getBatch(actor, kbId, batchId);
  }

  // --- retrieval -----------------------------------------------------------------------------

  async search(actor: KbActor, kbIds: string[], o: SearchOptions): Promise<SearchResult> {
    const t0 = performance.now();
    if (typeof o.query !== 'string' || o.query.trim() === '')
      throw new CorralError('bad_request', 'query must not be empty', 'query');
    if (o.query.length > 8192)
      throw new CorralError('bad_request', 'query is longer than 8192 characters', 'query');
    const bases = await Promise.all([...new Set(kbIds)].map((id) => this.getBase(actor, id)));
    const stages: SearchResult['stages'] = [];
    let hits: SearchHit[] = [];
    for (const base of bases) hits.push(...(await this.searchBase(base, o, stages)));
    const topK = o.topK ?? bases[0]?.settings.topK ?? DEFAULT_SETTINGS.topK;
    const threshold = o.scoreThreshold ?? bases[0]?.settings.scoreThreshold ?? 0;
    hits = hits
      .filter((h) => h.score >= threshold)
      .sort((a, b) => b.score - a.score)
      .slice(0, topK);
    const tookMs = performance.now() - t0;
    for (const base of bases) {
      void this.repo.touchBase(base.id).catch(() => undefined);
      if (o.log) {
        await this.ds.query(
          `INSERT INTO kb_queries (team_id, kb_id, query, options, results, took_ms, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            base.teamId,
            base.id,
            o.query,
            JSON.stringify({ topK, scoreThreshold: threshold, filter: o.filter ?? null }),
            JSON.stringify(
              hits
                .filter((h) => h.kbId === base.id)
                .map((h) => ({ id: h.id, score: h.score, documentId: h.documentId })),
            ),
            tookMs,
            actor.userId ?? actor.keyId,
          ],
        );
      }
    }
    return { hits, stages, tookMs };
  }

  private async searchBase(
    base: KnowledgeBase,
    o: SearchOptions,
    stages: SearchResult['stages'],
  ): Promise<SearchHit[]> {
    const gen = await this.repo.generation(base.id, base.activeGeneration);
    if (!gen) return [];
    const n = base.settings.candidates;
    let t = performance.now();
    const bm25 = await lexicalSearch(this.ds, {
      teamId: base.teamId,
      kbId: base.id,
      generation: gen.generation,
      language: gen.language,
      query: o.query,
      limit: n,
      filter: o.filter,
    });
    stages.push({ name: 'bm25', ms: performance.now() - t, candidates: bm25.length });
    let vector: RankedId[] = [];
    if (gen.embeddingModel && this.hasVectors) {
      t = performance.now();
      const { vectors } = await this.embedder.embed({
        teamId: base.teamId,
        model: gen.embeddingModel,
        inputs: [o.query],
        route: 'kb:search',
      });
      const v = vectors[0] ?? [];
      if (gen.dimension !== null && v.length !== gen.dimension) {
        throw new CorralError(
          'conflict',
          `the embedding model now returns ${v.length} dimensions; this index holds ${gen.dimension}: reindex the knowledge base`,
        );
      }
      vector = await denseSearch(this.ds, {
        teamId: base.teamId,
        kbId: base.id,
        generation: gen.generation,
        vector: v,
        limit: n,
        filter: o.filter,
      });
      stages.push({ name: 'vector', ms: performance.now() - t, candidates: vector.length });
    }
    const final = gen.embeddingModel ? reciprocalRankFusion([bm25, vector]) : bm25;
    const ids = final.slice(0, Math.max(o.topK ?? base.settings.topK, 1) * 4).map((r) => r.id);
    const rows = new Map((await this.repo.chunksById(base.teamId, base.id, ids)).map((c) => [c.id, c]));
    const rank = (list: RankedId[]) => new Map(list.map((r, i) => [r.id, { rank: i + 1, score: r.score }]));
    const [rb, rv, rf] = [rank(bm25), rank(vector), rank(final)];
    const out: SearchHit[] = [];
    for (const r of final) {
      const c = rows.get(r.id);
      if (!c) continue;
      out.push({
        ...c,
        kbId: base.id,
        score: r.score,
        stages: {
          bm25: rb.get(r.id),
          vector: rv.get(r.id),
          fused: gen.embeddingModel ? rf.get(r.id) : undefined,
        },
      });
    }
    return out;
  }
}
