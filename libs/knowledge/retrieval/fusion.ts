/** Reciprocal rank fusion (Cormack et al. 2009): score = Σ 1 / (k + rank), k = 60. */
import type { RankedId } from './lexical';

export const RRF_K = 60;

export function reciprocalRankFusion(lists: readonly (readonly RankedId[])[], k = RRF_K): RankedId[] {
  const score = new Map<string, number>();
  for (const list of lists) {
    list.forEach((r, i) => score.set(r.id, (score.get(r.id) ?? 0) + 1 / (k + i + 1)));
  }
  return [...score.entries()]
    .map(([id, s]) => ({ id, score: s }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
}
