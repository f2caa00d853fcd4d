/**
 * Writes and removes a document's chunks in one generation together with their postings (the
 * lexical index) and the generation's BM25 statistics (chunk count, total length), in the caller's
 * transaction. Every write first locks the generation's row, so concurrent ingestions into one base
 * serialize their index updates while parsing and embedding stay parallel.
 */
import type { EntityManager } from 'typeorm';
import { randomBytes } from 'node:crypto';

export interface NewChunk {
  ordinal: number;
  text: string;
  headingPath: string[];
  pageFrom: number | null;
  pageTo: number | null;
  charStart: number;
  charEnd: number;
  tokenCount: number;
  embedding?: readonly number[];
}

export interface ChunkScope {
  teamId: string;
  kbId: string;
  generation: number;
  documentId: string;
}

export const chunkId = () => `chunk_${randomBytes(12).toString('base64url')}`;

/** Locks the generation row; returns its text search configuration (throws if it is gone). */
export async function lockGeneration(
  m: EntityManager,
  s: Pick<ChunkScope, 'kbId' | 'generation'>,
): Promise<string> {
  const rows = (await m.query(
    `SELECT language FROM kb_generations WHERE kb_id = $1 AND generation = $2 FOR UPDATE`,
    [s.kbId, s.generation],
  )) as { language: string }[];
  if (!rows[0]) throw new Error(`generation ${s.generation} of ${s.kbId} is gone`);
  return rows[0].language;
}

/** Removes the document's chunks of this generation (their postings cascade) and their statistics. */
export async function removeChunks(m: EntityManager, s: ChunkScope): Promise<number> {
  const gone = (await m.query(
    `WITH d AS (DELETE FROM kb_chunks WHERE kb_id = $1 AND generation = $2 AND document_id = $3 RETURNING dl)
     SELECT count(*)::int AS n, coalesce(sum(dl), 0)::bigint AS len FROM d`,
    [s.kbId, s.generation, s.documentId],
  )) as { n: number; len: string }[];
  const n = gone[0]?.n ?? 0;
  if (n > 0) {
    await m.query(
      `UPDATE kb_generations SET chunk_count = chunk_count - $3, total_length = total_length - $4
        WHERE kb_id = $1 AND generation = $2`,
      [s.kbId, s.generation, n, gone[0]?.len ?? 0],
    );
  }
  return n;
}

/**
 * Inserts chunks (the database computes each lexical vector with the generation's text search
 * configuration, from the heading path and the text), their postings and statistics.
 */
export async function insertChunks(
  m: EntityManager,
  s: ChunkScope,
  language: string,
  chunks: readonly NewChunk[],
  withVectors: boolean,
): Promise<void> {
  if (chunks.length === 0) return;
  const BATCH = 500;
  for (let i = 0; i < chunks.length; i += BATCH) {
    const rows = chunks.slice(i, i + BATCH).map((c) => ({
      id: chunkId(),
      ordinal: c.ordinal,
      text: c.text,
      heading_path: c.headingPath,
      page_from: c.pageFrom,
      page_to: c.pageTo,
      char_start: c.charStart,
      char_end: c.charEnd,
      token_count: c.tokenCount,
      embedding: c.embedding ? `[${c.embedding.join(',')}]` : null,
    }));
    const vecCol = withVectors ? ', embedding' : '';
    const vecVal = withVectors ? ', c.embedding::vector' : '';
    await m.query(
      `INSERT INTO kb_chunks (id, team_id, kb_id, generation, document_id, ordinal, text, heading_path,
                              page_from, page_to, char_start, char_end, token_count, tsv, dl${vecCol})
       SELECT c.id, $1, $2, $3, $4, c.ordinal, c.text, c.heading_path, c.page_from, c.page_to,
              c.char_start, c.char_end, c.token_count, t.tsv,
              (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0) FROM unnest(t.tsv) u)${vecVal}
         FROM jsonb_to_recordset($5::jsonb) AS c(id text, ordinal int, text text, heading_path text[],
              page_from int, page_to int, char_start int, char_end int, token_count int, embedding text)
        CROSS JOIN LATERAL (SELECT to_tsvector($6::regconfig,
              array_to_string(c.heading_path, ' ') || ' ' || c.text) AS tsv) t`,
      [s.teamId, s.kbId, s.generation, s.documentId, JSON.stringify(rows), language],
    );
  }
  await m.query(
    `INSERT INTO kb_postings (kb_id, generation, term, chunk_seq, tf, dl)
     SELECT $1, $2, u.lexeme, c.seq, least(coalesce(array_length(u.positions, 1), 1), 32767), c.dl
       FROM kb_chunks c, unnest(c.tsv) u
      WHERE c.kb_id = $1 AND c.generation = $2 AND c.document_id = $3`,
    [s.kbId, s.generation, s.documentId],
  );
  await m.query(
    `UPDATE kb_generations g SET chunk_count = g.chunk_count + x.n, total_length = g.total_length + x.len
       FROM (SELECT count(*)::int AS n, coalesce(sum(dl), 0)::bigint AS len FROM kb_chunks
              WHERE kb_id = $1 AND generation = $2 AND document_id = $3) x
      WHERE g.kb_id = $1 AND g.generation = $2`,
    [s.kbId, s.generation, s.documentId],
  );
}
