/**
 * Retrieval quality over a BEIR-format set: nDCG@10 (the grade as the gain, log2 discount: trec_eval's
 * ndcg_cut, which BEIR reports through pytrec_eval), recall@k and MRR@10, averaged over the judged queries.
 */
import { readFileSync } from 'node:fs';

export interface BeirQuery {
  id: string;
  text: string;
}
/** query id → (document id → relevance grade > 0). */
export type Qrels = Map<string, Map<string, number>>;

export function readQueries(path: string): BeirQuery[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const o = JSON.parse(l) as { _id: unknown; text: unknown };
      return { id: String(o._id), text: String(o.text) };
    });
}

/** qrels TSV: `query-id corpus-id score`, with or without a header line. */
export function readQrels(path: string): Qrels {
  const out: Qrels = new Map();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [q, d, s] = line.trim().split(/\t/);
    if (!q || !d || s === undefined || !/^-?\d+$/.test(s)) continue;
    const grade = Number(s);
    if (grade <= 0) continue;
    if (!out.has(q)) out.set(q, new Map());
    out.get(q)!.set(d, grade);
  }
  return out;
}

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
      const g = rel.get(d) ?? 0;
      dcg += g / Math.log2(i + 2);
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
