/**
 * Vector top-N with pgvector's cosine distance, inside the team, base and generation. The caller
 * has checked that the query vector has the generation's dimension: a mismatch never reaches SQL.
 */
import type { DataSource } from 'typeorm';
import { filterSql, type Filter } from './filters';
import type { RankedId } from './lexical';

export interface DenseQuery {
  teamId: string;
  kbId: string;
  generation: number;
  vector: readonly number[];
  limit: number;
  filter?: Filter;
}

export async function denseSearch(ds: DataSource, q: DenseQuery): Promise<RankedId[]> {
  const params: unknown[] = [q.teamId, q.kbId, q.generation, `[${q.vector.join(',')}]`, q.limit];
  const join = q.filter
    ? `JOIN kb_documents d ON d.kb_id = c.kb_id AND d.id = c.document_id AND d.team_id = $1 AND (${filterSql(q.filter, params)})`
    : '';
  const rows = (await ds.query(
    `SELECT c.id, (1 - (c.embedding <=> $4::vector))::float8 AS score
       FROM kb_chunks c ${join}
      WHERE c.team_id = $1 AND c.kb_id = $2 AND c.generation = $3 AND c.embedding IS NOT NULL
      ORDER BY c.embedding <=> $4::vector, c.id
      LIMIT $5`,
    params,
  )) as { id: string; score: number }[];
  return rows.map((r) => ({ id: r.id, score: Number(r.score) }));
}
