/**
 * BEIR retrieval metrics for `corral kb eval`, on the same definitions the server's benchmark uses
 * (libs/knowledge/eval/metrics.ts, which the CLI does not load): nDCG@10 with the grade as the gain
 * and a log2(rank + 1) discount (trec_eval's ndcg_cut), recall@k and MRR@10, averaged over the
 * judged queries that were run.
 */
import { readFileSync } from 'node:fs';

export interface BeirQuery {
  id: string;
  text: string;
}
/** query id → (document id → relevance grade > 0). */
export type Qrels = Map<string, Map<string, number>>;

/** queries.jsonl: one `{"_id": ..., "text": ...}` per line. */
export function parseQueries(text: string): BeirQuery[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      let o: { _id?: unknown; text?: unknown };
      try {
        o = JSON.parse(l) as { _id?: unknown; text?: unknown };
      } catch {
        throw new Error(`queries line ${i + 1} is not JSON`);
      }
      if (o._id === undefined || o.text === undefined)
        throw new Error(`queries line ${i + 1} needs "_id" and "text"`);
      return { id: String(o._id), text: String(o.text) };
    });
}

/** qrels TSV: `query-id corpus-id score`, with or without a header line; grades ≤ 0 are dropped. */
export function parseQrels(text: string): Qrels {
  const out: Qrels = new Map();
  for (const line of text.split('\n')) {
    const [q, d, s] = line.trim().split(/\t/);
    if (!q || !d || s === undefined || !/^-?\d+$/.test(s)) continue;
    const grade = Number(s);
    if (grade <= 0) continue;
    if (!out.has(q)) out.set(q, new Map());
    out.get(q)!.set(d, grade);
  }
  return out;
}

export const readQueries = (path: string) => parseQueries(readFileSync(path, 'utf8'));
export const readQrels = (path: string) => parseQrels(readFileSync(path, 'utf8'));

export interface QualityRow {
  queries: number;
  ndcg10: number;
  recall10: number;
  recall100: number;
  mrr10: number;
}

/** `ranked`: query id → document ids, best first (duplicates after the first are ignored). */
export function score(ranked: Map<string, string[]>, qrels: Qrels): QualityRow {
  let n = 0;
  const sum = { ndcg10: 0, recall10: 0, recall100: 0, mrr10: 0 };
  for (const [qid, rel] of qrels) {
    if (!ranked.has(qid)) continue;
    n++;
    const list = [...new Set(ranked.get(qid))];
    let dcg = 0;
    list.slice(0, 10).forEach((d, i) => {
      dcg += (rel.get(d) ?? 0) / Math.log2(i + 2);
    });
    const ideal = [...rel.values()].sort((a, b) => b - a).slice(0, 10);
    const idcg = ideal.reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
    sum.ndcg10 += idcg > 0 ? dcg / idcg : 0;
    const hits = (k: number) => list.slice(0, k).filter((d) => rel.has(d)).length / rel.size;
    sum.recall10 += hits(10);
    sum.recall100 += hits(100);
    const first = list.slice(0, 10).findIndex((d) => rel.has(d));
    sum.mrr10 += first >= 0 ? 1 / (first + 1) : 0;
  }
  const avg = (x: number) => (n ? x / n : 0);
  return {
    queries: n,
    ndcg10: avg(sum.ndcg10),
    recall10: avg(sum.recall10),
    recall100: avg(sum.recall100),
    mrr10: avg(sum.mrr10),
  };
}
