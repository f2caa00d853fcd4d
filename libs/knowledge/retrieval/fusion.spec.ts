import { reciprocalRankFusion } from './fusion';

describe('reciprocal rank fusion', () => {
  it('ranks an id found by both retrievers above ids found by one', () => {
    const fused = reciprocalRankFusion([
      [
        { id: 'a', score: 9 },
        { id: 'b', score: 5 },
      ],
      [
        { id: 'c', score: 0.9 },
        { id: 'b', score: 0.8 },
      ],
    ]);
    expect(fused.map((r) => r.id)).toEqual(['b', 'a', 'c']);
    expect(fused[0]!.score).toBeCloseTo(1 / 62 + 1 / 62);
  });
});
