/**
 * All SQL of knowledge bases except the chunk index (./chunk.store) and retrieval (../retrieval).
 * Every read takes the actor's teams (`teams`: an array, or null for global admins) and filters by
 * them inside the query.
 */
import type { DataSource, EntityManager } from 'typeorm';
import type {
  DocumentStatus,
  KbDocument,
  KbFile,
  KbSettings,
  KnowledgeBase,
  Stage,
  StoredChunk,
} from '../knowledge.types';
import { DEFAULT_SETTINGS } from '../knowledge.types';

type Teams = string[] | null;
type Row = Record<string, unknown>;
type Q = DataSource | EntityManager;

const TEAM = (col: string, n: number) => `($${n}::text[] IS NULL OR ${col} = ANY($${n}::text[]))`;

export interface Generation {
  kbId: string;
  generation: number;
  teamId: string;
  status: 'building' | 'active' | 'retired' | 'failed';
  embeddingModel: string | null;
  modelDigest: string | null;
  dimension: number | null;
  chunking: KbSettings['chunking'];
  language: string;
  chunkCount: number;
}

export interface Job {
  id: string;
  teamId: string;
  kbId: string;
  documentId: string;
  generation: number;
  sha256: string;
  attempts: number;
}

export interface PageQuery {
  limit: number;
  after?: string;
  before?: string;
  order: 'asc' | 'desc';
}

/**
 * Rows of an UPDATE/DELETE … RETURNING: TypeORM's postgres driver answers those with
 * `[rows, affectedCount]` where a SELECT or INSERT gives the rows alone.
 */
function returned(result: unknown): Row[] {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[0] as Row[];
  }
  return result as Row[];
}

const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));
const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

function fileOf(r: Row): KbFile {
  return {
    id: String(r.id),
    teamId: String(r.team_id),
    filename: String(r.filename),
    purpose: String(r.purpose),
    bytes: num(r.bytes),
    sha256: String(r.sha256),
    createdAt: date(r.created_at),
  };
}

function documentOf(r: Row): KbDocument {
  return {
    id: String(r.id),
    kbId: String(r.kb_id),
    teamId: String(r.team_id),
    filename: String(r.filename),
    detectedType: (r.detected_type as string | null) ?? null,
    bytes: num(r.bytes),
    sha256: String(r.sha256),
    attributes: (r.attributes as KbDocument['attributes']) ?? {},
    batchId: (r.batch_id as string | null) ?? null,
    status: r.status as DocumentStatus,
    stage: (r.stage as Stage | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    errorCode: (r.error_code as string | null) ?? null,
    pages: r.pages === null || r.pages === undefined ? null : Number(r.pages),
    chunkCount: num(r.chunk_count),
    usageBytes: num(r.usage_bytes),
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}

function generationOf(r: Row): Generation {
  return {
    kbId: String(r.kb_id),
    generation: Number(r.generation),
    teamId: String(r.team_id),
    status: r.status as Generation['status'],
    embeddingModel: (r.embedding_model as string | null) ?? null,
    modelDigest: (r.model_digest as string | null) ?? null,
    dimension: r.dimension === null || r.dimension === undefined ? null : Number(r.dimension),
    chunking: r.chunking as KbSettings['chunking'],
    language: String(r.language),
    chunkCount: num(r.chunk_count),
  };
}

/** `WHERE`-clause fragment and params for cursor pagination on (created_at, id). */
function cursor(table: string, idCol: string, p: PageQuery, params: unknown[], extra = ''): string {
  const parts: string[] = [];
  for (const [key, dirDesc] of [
    ['after', p.order === 'desc'],
    ['before', p.order !== 'desc'],
  ] as const) {
    const id = p[key];
    if (!id) continue;
    params.push(id);
    const op = dirDesc ? '<' : '>';
    parts.push(
      `(created_at, ${idCol}) ${op} (SELECT created_at, ${idCol} FROM ${table} WHERE ${idCol} = $${params.length}${extra})`,
    );
  }
  return parts.length ? `AND ${parts.join(' AND ')}` : '';
}

export class KnowledgeRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.ds.transaction(fn);
  }

  // --- files ---------------------------------------------------------------------------------

  async insertFile(f: KbFile & { content: Buffer; createdBy: string | null }): Promise<KbFile> {
    const rows = (await this.ds.query(
      `INSERT INTO kb_files (id, team_id, filename, purpose, bytes, sha256, content, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       RETURNING id, team_id, filename, purpose, bytes, sha256, created_at`,
      [f.id, f.teamId, f.filename, f.purpose, f.bytes, f.sha256, f.content, f.createdBy],
    )) as Row[];
    return fileOf(rows[0]!);
  }

  async getFile(teams: Teams, id: string, q: Q = this.ds): Promise<KbFile | undefined> {
    const rows = (await q.query(
      `SELECT id, team_id, filename, purpose, bytes, sha256, created_at FROM kb_files
        WHERE id = $1 AND ${TEAM('team_id', 2)}`,
      [id, teams],
    )) as Row[];
    return rows[0] ? fileOf(rows[0]) : undefined;
  }

  /** The bytes of a file of this team (the ingestion job reads them). */
  async fileBytes(teams: Teams, id: string): Promise<Buffer | undefined> {
    const rows = (await this.ds.query(
      `SELECT content FROM kb_files WHERE id = $1 AND ${TEAM('team_id', 2)}`,
      [id, teams],
    )) as { content: Buffer | Uint8Array }[];
    const c = rows[0]?.content;
    return c === undefined ? undefined : Buffer.from(c);
  }

  async listFiles(teams: Teams, p: PageQuery, purpose?: string): Promise<KbFile[]> {
    const params: unknown[] = [teams, purpose ?? null, p.limit + 1];
    const where = cursor('kb_files', 'id', p, params);
    const rows = (await this.ds.query(
      `SELECT id, team_id, filename, purpose, bytes, sha256, created_at FROM kb_files
        WHERE ${TEAM('team_id', 1)} AND ($2::text IS NULL OR purpose = $2) ${where}
        ORDER BY created_at ${p.order}, id ${p.order} LIMIT $3`,
      params,
    )) as Row[];
    return rows.map(fileOf);
  }

  async deleteFile(teams: Teams, id: string): Promise<boolean> {
    const rows = returned(
      await this.ds.query(`DELETE FROM kb_files WHERE id = $1 AND ${TEAM('team_id', 2)} RETURNING id`, [
        id,
        teams,
      ]),
    );
    return rows.length > 0;
  }

  // --- bases ---------------------------------------------------------------------------------

  async insertBase(
    m: EntityManager,
    b: {
      id: string;
      teamId: string;
      name: string;
      description: string | null;
      metadata: Record<string, string>;
      settings: KbSettings;
      createdBy: string | null;
    },
    gen: { embeddingModel: string | null; modelDigest: string | null; dimension: number | null },
  ): Promise<void> {
    await m.query(
      `INSERT INTO knowledge_bases (id, team_id, name, description, metadata, settings, active_generation, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7)`,
      [
        b.id,
        b.teamId,
        b.name,
        b.description,
        JSON.stringify(b.metadata),
        JSON.stringify(b.settings),
        b.createdBy,
      ],
    );
    await this.insertGeneration(m, b.id, 1, b.teamId, 'active', b.settings, gen);
  }

  async insertGeneration(
    m: EntityManager,
    kbId: string,
    generation: number,
    teamId: string,
    status: Generation['status'],
    s: KbSettings,
    gen: { embeddingModel: string | null; modelDigest: string | null; dimension: number | null },
  ): Promise<void> {
    await m.query(
      `INSERT INTO kb_generations (kb_id, generation, team_id, status, embedding_model, model_digest, dimension, chunking, language, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $4 = 'active' THEN now() END)`,
      [
        kbId,
        generation,
        teamId,
        status,
        gen.embeddingModel,
        gen.modelDigest,
        gen.dimension,
        JSON.stringify(s.chunking),
        s.language,
      ],
    );
  }

  private baseSelect(where: string): string {
    return `SELECT kb.*,
              (SELECT max(generation) FROM kb_generations g WHERE g.kb_id = kb.id AND g.status = 'building') AS building,
              (SELECT coalesce(jsonb_object_agg(status, n), '{}') FROM
                 (SELECT status, count(*)::int AS n FROM kb_documents d WHERE d.kb_id = kb.id GROUP BY status) s) AS counts,
              (SELECT coalesce(sum(usage_bytes), 0)::bigint FROM kb_documents d WHERE d.kb_id = kb.id) AS usage
         FROM knowledge_bases kb WHERE ${where}`;
  }

  private baseOf(r: Row): KnowledgeBase {
    const c = (r.counts as Record<string, number>) ?? {};
    const counts = {
      queued: c.queued ?? 0,
      in_progress: c.in_progress ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
      cancelled: c.cancelled ?? 0,
      total: 0,
    };
    counts.total = counts.queued + counts.in_progress + counts.completed + counts.failed + counts.cancelled;
    return {
      id: String(r.id),
      teamId: String(r.team_id),
      name: String(r.name),
      description: (r.description as string | null) ?? null,
      metadata: (r.metadata as Record<string, string>) ?? {},
      settings: { ...DEFAULT_SETTINGS, ...(r.settings as Partial<KbSettings>) },
      activeGeneration: Number(r.active_generation),
      buildingGeneration: r.building === null || r.building === undefined ? null : Number(r.building),
      createdAt: date(r.created_at),
      updatedAt: date(r.updated_at),
      lastActiveAt: date(r.last_active_at),
      counts,
      usageBytes: num(r.usage),
    };
  }

  async getBase(teams: Teams, id: string, q: Q = this.ds): Promise<KnowledgeBase | undefined> {
    const rows = (await q.query(this.baseSelect(`kb.id = $1 AND ${TEAM('kb.team_id', 2)}`), [
      id,
      teams,
    ])) as Row[];
    return rows[0] ? this.baseOf(rows[0]) : undefined;
  }

  /** Locks the base row (settings changes and generation switches serialize on it). */
  async lockBase(m: EntityManager, teams: Teams, id: string): Promise<KnowledgeBase | undefined> {
    const ok = (await m.query(
      `SELECT id FROM knowledge_bases WHERE id = $1 AND ${TEAM('team_id', 2)} FOR UPDATE`,
      [id, teams],
    )) as Row[];
    return ok.length ? this.getBase(teams, id, m) : undefined;
  }

  async listBases(teams: Teams, p: PageQuery, teamId?: string): Promise<KnowledgeBase[]> {
    const params: unknown[] = [teams, teamId ?? null, p.limit + 1];
    const where = cursor('knowledge_bases', 'id', p, params);
    const rows = (await this.ds.query(
      `${this.baseSelect(`${TEAM('kb.team_id', 1)} AND ($2::text IS NULL OR kb.team_id = $2) ${where.replace(/\(created_at, id\)/g, '(kb.created_at, kb.id)')}`)}
        ORDER BY kb.created_at ${p.order}, kb.id ${p.order} LIMIT $3`,
      params,
    )) as Row[];
    return rows.map((r) => this.baseOf(r));
  }

  async updateBase(
    m: EntityManager,
    id: string,
    patch: {
      name: string;
      description: string | null;
      metadata: Record<string, string>;
      settings: KbSettings;
    },
  ): Promise<void> {
    await m.query(
      `UPDATE knowledge_bases SET name = $2, description = $3, metadata = $4, settings = $5, updated_at = now() WHERE id = $1`,
      [id, patch.name, patch.description, JSON.stringify(patch.metadata), JSON.stringify(patch.settings)],
    );
  }

  async touchBase(id: string): Promise<void> {
    await this.ds.query(`UPDATE knowledge_bases SET last_active_at = now() WHERE id = $1`, [id]);
  }

  async deleteBase(teams: Teams, id: string): Promise<boolean> {
    return this.ds.transaction(async (m) => {
      const rows = (await m.query(
        `SELECT id FROM knowledge_bases WHERE id = $1 AND ${TEAM('team_id', 2)} FOR UPDATE`,
        [id, teams],
      )) as Row[];
      if (!rows.length) return false;
      // Postings go with their chunks (cascade); deleting chunks first keeps that one pass.
      await m.query(`DELETE FROM kb_chunks WHERE kb_id = $1`, [id]);
      await m.query(`DELETE FROM knowledge_bases WHERE id = $1`, [id]);
      return true;
    });
  }

  // --- generations ---------------------------------------------------------------------------

  async generation(kbId: string, generation: number, q: Q = this.ds): Promise<Generation | undefined> {
    const rows = (await q.query(`SELECT * FROM kb_generations WHERE kb_id = $1 AND generation = $2`, [
      kbId,
      generation,
    ])) as Row[];
    return rows[0] ? generationOf(rows[0]) : undefined;
  }

  /** The generations ingestion writes to: the active one and the one being built, if any. */
  async liveGenerations(m: Q, kbId: string): Promise<Generation[]> {
    const rows = (await m.query(
      `SELECT * FROM kb_generations WHERE kb_id = $1 AND status IN ('active', 'building') ORDER BY generation`,
      [kbId],
    )) as Row[];
    return rows.map(generationOf);
  }

  async nextGeneration(m: EntityManager, kbId: string): Promise<number> {
    const rows = (await m.query(
      `SELECT coalesce(max(generation), 0) + 1 AS n FROM kb_generations WHERE kb_id = $1`,
      [kbId],
    )) as { n: number }[];
    return Number(rows[0]?.n ?? 1);
  }

  /**
   * Switches a base to `generation` once none of its jobs is pending: the base row's pointer moves
   * in one statement, so a query sees the old generation or the new one, never a mix. The old
   * generation's chunks are removed after the switch.
   */
  async switchIfBuilt(kbId: string, generation: number): Promise<boolean> {
    const switched = await this.ds.transaction(async (m) => {
      await m.query(`SELECT id FROM knowledge_bases WHERE id = $1 FOR UPDATE`, [kbId]);
      const g = await this.generation(kbId, generation, m);
      if (!g || g.status !== 'building') return false;
      const pending = (await m.query(
        `SELECT 1 FROM kb_jobs WHERE kb_id = $1 AND generation = $2 AND status IN ('queued', 'running') LIMIT 1`,
        [kbId, generation],
      )) as Row[];
      if (pending.length) return false;
      await m.query(`UPDATE kb_generations SET status = 'retired' WHERE kb_id = $1 AND status = 'active'`, [
        kbId,
      ]);
      await m.query(
        `UPDATE kb_generations SET status = 'active', completed_at = now() WHERE kb_id = $1 AND generation = $2`,
        [kbId, generation],
      );
      await m.query(`UPDATE knowledge_bases SET active_generation = $2, updated_at = now() WHERE id = $1`, [
        kbId,
        generation,
      ]);
      // Documents report the new generation's outcome.
      await m.query(
        `UPDATE kb_documents d SET chunk_count = coalesce(x.n, 0)
           FROM (SELECT document_id, count(*)::int AS n FROM kb_chunks WHERE kb_id = $1 AND generation = $2 GROUP BY document_id) x
          WHERE d.kb_id = $1 AND d.id = x.document_id`,
        [kbId, generation],
      );
      return true;
    });
    if (switched) {
      await this.ds.query(`DELETE FROM kb_chunks WHERE kb_id = $1 AND generation < $2`, [kbId, generation]);
    }
    return switched;
  }

  // --- documents and jobs --------------------------------------------------------------------

  /**
   * Adds (or replaces) a document and queues one job per live generation. The same content again
   * is a no-op: a completed document with this hash keeps its chunks.
   */
  async upsertDocument(
    m: EntityManager,
    d: {
      kbId: string;
      teamId: string;
      file: KbFile;
      attributes: KbDocument['attributes'];
      chunking: KbSettings['chunking'] | null;
      batchId: string | null;
    },
  ): Promise<KbDocument> {
    const prior = (await m.query(`SELECT * FROM kb_documents WHERE kb_id = $1 AND id = $2 FOR UPDATE`, [
      d.kbId,
      d.file.id,
    ])) as Row[];
    const same = prior[0] && prior[0].sha256 === d.file.sha256 && prior[0].status === 'completed';
    if (same) {
      const rows = returned(
        await m.query(
          `UPDATE kb_documents SET attributes = $3, batch_id = coalesce($4, batch_id), updated_at = now()
          WHERE kb_id = $1 AND id = $2 RETURNING *`,
          [d.kbId, d.file.id, JSON.stringify(d.attributes), d.batchId],
        ),
      );
      return documentOf(rows[0]!);
    }
    const rows = (await m.query(
      `INSERT INTO kb_documents (kb_id, id, team_id, filename, bytes, sha256, attributes, chunking, batch_id, status, stage, reason, error_code)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', NULL, NULL, NULL)
       ON CONFLICT (kb_id, id) DO UPDATE SET filename = excluded.filename, bytes = excluded.bytes, sha256 = excluded.sha256,
         attributes = excluded.attributes, chunking = excluded.chunking, batch_id = excluded.batch_id,
         status = 'queued', stage = NULL, reason = NULL, error_code = NULL, updated_at = now()
       RETURNING *`,
      [
        d.kbId,
        d.file.id,
        d.teamId,
        d.file.filename,
        d.file.bytes,
        d.file.sha256,
        JSON.stringify(d.attributes),
        d.chunking ? JSON.stringify(d.chunking) : null,
        d.batchId,
      ],
    )) as Row[];
    await m.query(
      `DELETE FROM kb_jobs WHERE kb_id = $1 AND document_id = $2 AND status IN ('queued', 'failed', 'done')`,
      [d.kbId, d.file.id],
    );
    for (const g of await this.liveGenerations(m, d.kbId)) {
      await this.queueJob(m, d.teamId, d.kbId, d.file.id, g.generation, d.file.sha256);
    }
    return documentOf(rows[0]!);
  }

  async queueJob(
    m: Q,
    teamId: string,
    kbId: string,
    documentId: string,
    generation: number,
    sha256: string,
  ): Promise<void> {
    await m.query(
      `INSERT INTO kb_jobs (team_id, kb_id, document_id, generation, sha256, status) VALUES ($1, $2, $3, $4, $5, 'queued')`,
      [teamId, kbId, documentId, generation, sha256],
    );
  }

  async getDocument(teams: Teams, kbId: string, id: string, q: Q = this.ds): Promise<KbDocument | undefined> {
    const rows = (await q.query(
      `SELECT * FROM kb_documents WHERE kb_id = $1 AND id = $2 AND ${TEAM('team_id', 3)}`,
      [kbId, id, teams],
    )) as Row[];
    return rows[0] ? documentOf(rows[0]) : undefined;
  }

  async listDocuments(
    teams: Teams,
    kbId: string,
    p: PageQuery,
    f: { status?: string; batchId?: string },
  ): Promise<KbDocument[]> {
    const params: unknown[] = [kbId, teams, f.status ?? null, f.batchId ?? null, p.limit + 1];
    const where = cursor('kb_documents', 'id', p, params, ' AND kb_id = $1');
    const rows = (await this.ds.query(
      `SELECT * FROM kb_documents
        WHERE kb_id = $1 AND ${TEAM('team_id', 2)}
          AND ($3::text IS NULL OR status = $3 OR ($3 = 'in_progress' AND status = 'queued'))
          AND ($4::text IS NULL OR batch_id = $4) ${where}
        ORDER BY created_at ${p.order}, id ${p.order} LIMIT $5`,
      params,
    )) as Row[];
    return rows.map(documentOf);
  }

  async setAttributes(
    teams: Teams,
    kbId: string,
    id: string,
    attributes: KbDocument['attributes'],
  ): Promise<KbDocument | undefined> {
    const rows = returned(
      await this.ds.query(
        `UPDATE kb_documents SET attributes = $4, updated_at = now() WHERE kb_id = $1 AND id = $2 AND ${TEAM('team_id', 3)} RETURNING *`,
        [kbId, id, teams, JSON.stringify(attributes)],
      ),
    );
    return rows[0] ? documentOf(rows[0]) : undefined;
  }

  /** Deletes the document with its jobs (a running one notices at its commit), chunks and postings. */
  async deleteDocument(teams: Teams, kbId: string, id: string): Promise<boolean> {
    return this.ds.transaction(async (m) => {
      const rows = (await m.query(
        `SELECT id FROM kb_documents WHERE kb_id = $1 AND id = $2 AND ${TEAM('team_id', 3)} FOR UPDATE`,
        [kbId, id, teams],
      )) as Row[];
      if (!rows.length) return false;
      for (const g of (await m.query(
        `SELECT DISTINCT generation FROM kb_chunks WHERE kb_id = $1 AND document_id = $2`,
        [kbId, id],
      )) as {
        generation: number;
      }[]) {
        await m.query(`SELECT 1 FROM kb_generations WHERE kb_id = $1 AND generation = $2 FOR UPDATE`, [
          kbId,
          g.generation,
        ]);
        await m.query(
          `UPDATE kb_generations gen SET chunk_count = gen.chunk_count - x.n, total_length = gen.total_length - x.len
             FROM (SELECT count(*)::int AS n, coalesce(sum(dl), 0)::bigint AS len FROM kb_chunks
                    WHERE kb_id = $1 AND generation = $2 AND document_id = $3) x
            WHERE gen.kb_id = $1 AND gen.generation = $2`,
          [kbId, g.generation, id],
        );
      }
      await m.query(`DELETE FROM kb_chunks WHERE kb_id = $1 AND document_id = $2`, [kbId, id]);
      await m.query(`DELETE FROM kb_documents WHERE kb_id = $1 AND id = $2`, [kbId, id]);
      return true;
    });
  }

  /** Marks the document's live jobs cancelled (a batch cancel); returns how many. */
  async cancelDocuments(teams: Teams, kbId: string, batchId: string): Promise<number> {
    return this.ds.transaction(async (m) => {
      const docs = returned(
        await m.query(
          `UPDATE kb_documents SET status = 'cancelled', stage = NULL, updated_at = now()
          WHERE kb_id = $1 AND batch_id = $2 AND ${TEAM('team_id', 3)} AND status IN ('queued', 'in_progress')
          RETURNING id`,
          [kbId, batchId, teams],
        ),
      );
      if (docs.length) {
        await m.query(
          `UPDATE kb_jobs SET status = 'cancelled' WHERE kb_id = $1 AND document_id = ANY($2::text[]) AND status IN ('queued', 'running')`,
          [kbId, docs.map((d) => d.id)],
        );
      }
      return docs.length;
    });
  }

  async batchCounts(
    teams: Teams,
    kbId: string,
    batchId: string,
  ): Promise<{ counts: Record<string, number>; createdAt: Date | null }> {
    const rows = (await this.ds.query(
      `SELECT status, count(*)::int AS n, min(created_at) AS created FROM kb_documents
        WHERE kb_id = $1 AND batch_id = $2 AND ${TEAM('team_id', 3)} GROUP BY status`,
      [kbId, batchId, teams],
    )) as { status: string; n: number; created: unknown }[];
    const counts: Record<string, number> = {};
    let createdAt: Date | null = null;
    for (const r of rows) {
      counts[r.status] = r.n;
      const c = date(r.created);
      if (!createdAt || c < createdAt) createdAt = c;
    }
    return { counts, createdAt };
  }

  async chunks(
    teams: Teams,
    kbId: string,
    documentId: string,
    generation: number,
    limit: number,
    offset: number,
  ): Promise<StoredChunk[]> {
    const rows = (await this.ds.query(
      `SELECT id, document_id, ordinal, text, heading_path, page_from, page_to, char_start, char_end, token_count
         FROM kb_chunks WHERE kb_id = $1 AND document_id = $2 AND generation = $3 AND ${TEAM('team_id', 4)}
        ORDER BY ordinal LIMIT $5 OFFSET $6`,
      [kbId, documentId, generation, teams, limit, offset],
    )) as Row[];
    return rows.map(chunkOf);
  }

  /** Chunks by id, limited to the team and base (retrieval's last step). */
  async chunksById(
    teamId: string,
    kbId: string,
    ids: string[],
  ): Promise<(StoredChunk & { filename: string; attributes: KbDocument['attributes'] })[]> {
    if (!ids.length) return [];
    const rows = (await this.ds.query(
      `SELECT c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.page_from, c.page_to, c.char_start, c.char_end, c.token_count,
              d.filename, d.attributes
         FROM kb_chunks c JOIN kb_documents d ON d.kb_id = c.kb_id AND d.id = c.document_id AND d.team_id = $1
        WHERE c.team_id = $1 AND c.kb_id = $2 AND c.id = ANY($3::text[])`,
      [teamId, kbId, ids],
    )) as Row[];
    return rows.map((r) => ({
      ...chunkOf(r),
      filename: String(r.filename),
      attributes: (r.attributes as KbDocument['attributes']) ?? {},
    }));
  }

  // --- the job queue -------------------------------------------------------------------------

  /**
   * Claims the oldest ready job (queued, or running under a lease that ran out: its gateway died).
   * SKIP LOCKED lets every gateway replica claim from the same table without waiting on another.
   */
  async claimJob(owner: string, leaseMs: number): Promise<Job | undefined> {
    const rows = returned(
      await this.ds.query(
        `UPDATE kb_jobs SET status = 'running', lease_owner = $1, lease_until = now() + ($2::int * interval '1 millisecond'),
              attempts = attempts + 1
        WHERE id = (SELECT id FROM kb_jobs
                     WHERE (status = 'queued' AND run_after <= now()) OR (status = 'running' AND lease_until < now())
                     ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
        RETURNING id, team_id, kb_id, document_id, generation, sha256, attempts`,
        [owner, leaseMs],
      ),
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: String(r.id),
      teamId: String(r.team_id),
      kbId: String(r.kb_id),
      documentId: String(r.document_id),
      generation: Number(r.generation),
      sha256: String(r.sha256),
      attempts: Number(r.attempts),
    };
  }

  /** Extends the lease; false when the job is no longer ours (deleted, cancelled, re-claimed). */
  async renewLease(job: Job, owner: string, leaseMs: number): Promise<boolean> {
    const rows = returned(
      await this.ds.query(
        `UPDATE kb_jobs SET lease_until = now() + ($3::int * interval '1 millisecond')
        WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING id`,
        [job.id, owner, leaseMs],
      ),
    );
    return rows.length > 0;
  }

  /** Locks our job row inside the commit transaction; false when it is gone or not ours. */
  async holdJob(m: EntityManager, job: Job, owner: string): Promise<boolean> {
    const rows = (await m.query(
      `SELECT id FROM kb_jobs WHERE id = $1 AND lease_owner = $2 AND status = 'running' FOR UPDATE`,
      [job.id, owner],
    )) as Row[];
    return rows.length > 0;
  }

  async finishJob(m: Q, job: Job, status: 'done' | 'failed', error: string | null): Promise<void> {
    await m.query(
      `UPDATE kb_jobs SET status = $2, error = $3, lease_owner = NULL, lease_until = NULL WHERE id = $1`,
      [job.id, status, error],
    );
  }

  async retryJob(job: Job, owner: string, delayMs: number, error: string): Promise<void> {
    await this.ds.query(
      `UPDATE kb_jobs SET status = 'queued', run_after = now() + ($3::int * interval '1 millisecond'), error = $4,
              lease_owner = NULL, lease_until = NULL
        WHERE id = $1 AND lease_owner = $2`,
      [job.id, owner, delayMs, error],
    );
  }

  async setStage(job: Job, owner: string, stage: Stage): Promise<void> {
    await this.ds.query(`UPDATE kb_jobs SET stage = $3 WHERE id = $1 AND lease_owner = $2`, [
      job.id,
      owner,
      stage,
    ]);
    await this.ds.query(
      `UPDATE kb_documents d SET status = 'in_progress', stage = $3, updated_at = now()
        FROM knowledge_bases kb
       WHERE d.kb_id = $1 AND d.id = $2 AND kb.id = d.kb_id AND d.status IN ('queued', 'in_progress')
         AND (kb.active_generation = $4 OR d.status = 'queued')`,
      [job.kbId, job.documentId, stage, job.generation],
    );
  }

  /** The document's outcome, reported only for the generation queries use (a rebuild is invisible). */
  async setOutcome(
    m: Q,
    job: Job,
    o: {
      status: 'completed' | 'failed';
      reason?: string;
      errorCode?: string;
      detectedType?: string | null;
      pages?: number | null;
      chunkCount?: number;
      usageBytes?: number;
    },
  ): Promise<void> {
    await m.query(
      `UPDATE kb_documents d SET status = $3, stage = NULL, reason = $4, error_code = $5,
              detected_type = coalesce($6, d.detected_type), pages = coalesce($7, d.pages),
              chunk_count = coalesce($8, d.chunk_count), usage_bytes = coalesce($9, d.usage_bytes), updated_at = now()
        FROM knowledge_bases kb
       WHERE d.kb_id = $1 AND d.id = $2 AND kb.id = d.kb_id AND d.status <> 'cancelled'
         AND (kb.active_generation = $10 OR d.status <> 'completed')`,
      [
        job.kbId,
        job.documentId,
        o.status,
        o.reason ?? null,
        o.errorCode ?? null,
        o.detectedType ?? null,
        o.pages ?? null,
        o.chunkCount ?? null,
        o.usageBytes ?? null,
        job.generation,
      ],
    );
  }

  async pendingJobs(): Promise<number> {
    const rows = (await this.ds.query(
      `SELECT count(*)::int AS n FROM kb_jobs WHERE status IN ('queued', 'running')`,
    )) as { n: number }[];
    return rows[0]?.n ?? 0;
  }
}

function chunkOf(r: Row): StoredChunk {
  return {
    id: String(r.id),
    documentId: String(r.document_id),
    ordinal: Number(r.ordinal),
    text: String(r.text),
    headingPath: (r.heading_path as string[]) ?? [],
    pageFrom: r.page_from === null || r.page_from === undefined ? null : Number(r.page_from),
    pageTo: r.page_to === null || r.page_to === undefined ? null : Number(r.page_to),
    charStart: Number(r.char_start),
    charEnd: Number(r.char_end),
    tokenCount: Number(r.token_count),
  };
}
