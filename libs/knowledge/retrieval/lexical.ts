/**
 * BM25 inside the database, the same SQL on PGlite and PostgreSQL. The query goes through the
 * generation's text search configuration (stemming, stop words) like the chunks did; the postings
 * of its lexemes (kb_postings, an index-only scan per lexeme) give each candidate's term
 * frequencies and length, and the document frequencies are counted from the same postings, so they
 * are exact after every ingest and delete. The score is Okapi BM25 with Lucene's IDF,
 * ln(1 + (N - df + 0.5) / (df + 0.5)), and term-frequency saturation,
 * tf·(k1+1) / (tf + k1·(1 - b + b·dl/avgdl)). `ts_rank` is not used: it has no IDF and no saturation.
 *
 * The team filter is in the query: the generation row must be the team's, and so must every chunk.
 */
import type { DataSource } from 'typeorm';
import { filterSql, type Filter } from './filters';

/** Anserini's defaults for passage retrieval (BEIR's BM25 baseline). */
export const BM25 = { k1: 0.9, b: 0.4 } as const;

export interface LexicalQuery {
  teamId: string;
  kbId: string;
  generation: number;
  language: string;
  query: string;
  limit: number;
  filter?: Filter;
  k1?: number;
  b?: number;
}

export interface RankedId {
  id: string;
  score: number;
}

export async function lexicalSearch(ds: DataSource, q: LexicalQuery): Promise<RankedId[]> {
  // The lexemes first, so the postings lookup below is an index condition on a known array (the
  // planner then reads only these terms' postings whatever its statistics say).
  const lexed = (await ds.query(`SELECT tsvector_to_array(to_tsvector($1::regconfig, $2)) AS terms`, [
    q.language,
    q.query,
  ])) as { terms: string[] }[];
  const terms = lexed[0]?.terms ?? [];
  if (terms.length === 0) return [];
  const params: unknown[] = [
    q.teamId,
    q.kbId,
    q.generation,
    terms,
    null,
    q.limit,
    q.k1 ?? BM25.k1,
    q.b ?? BM25.b,
  ];
  // With a filter the documents are joined before the limit, so filtered-out chunks never take
  // places in the top N.
  const filtered = q.filter
    ? `JOIN kb_chunks c ON c.seq = p.chunk_seq AND c.team_id = $1
       JOIN kb_documents d ON d.kb_id = c.kb_id AND d.id = c.document_id AND d.team_id = $1
      WHERE ${filterSql(q.filter, params)}`
    : '';
  const rows = (await ds.query(
    `WITH g AS (
       SELECT chunk_count::float8 AS n, total_length::float8 / greatest(chunk_count, 1) AS avgdl
         FROM kb_generations WHERE kb_id = $2 AND generation = $3 AND team_id = $1),
     p AS MATERIALIZED (
       SELECT p.term, p.chunk_seq, p.tf::float8 AS tf, p.dl::float8 AS dl
         FROM kb_postings p
        WHERE p.kb_id = $2 AND p.generation = $3 AND p.term = ANY($4::text[]) AND $5::text IS NULL
          AND EXISTS (SELECT 1 FROM g)),
     df AS (SELECT term, ln(1 + ((SELECT n FROM g) - count(*) + 0.5) / (count(*) + 0.5)) AS idf FROM p GROUP BY term),
     s AS (
       SELECT p.chunk_seq,
              sum(df.idf * p.tf * ($7::float8 + 1)
                  / (p.tf + $7::float8 * (1 - $8::float8 + $8::float8 * p.dl / (SELECT avgdl FROM g)))) AS score
         FROM p JOIN df ON df.term = p.term ${filtered}
        GROUP BY p.chunk_seq
        ORDER BY score DESC, p.chunk_seq
        LIMIT $6)
     SELECT (SELECT c.id FROM kb_chunks c
              WHERE c.seq = s.chunk_seq AND c.team_id = $1) AS id,
            s.score::float8 AS score
       FROM s
      ORDER BY s.score DESC, s.chunk_seq`,
    params,
  )) as { id: string | null; score: number }[];
  return rows
    .filter((r): r is { id: string; score: number } => r.id !== null)
    .map((r) => ({ id: r.id, score: Number(r.score) }));
}
