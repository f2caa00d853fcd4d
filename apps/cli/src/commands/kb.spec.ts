import { beirId, corpusItems, createBody, hitPlace, parseAttributes, renderBases } from './kb';
import { parseQrels, parseQueries, score } from './kb-eval';

describe('corral kb', () => {
  it('builds the vector-store create body from the flags', () => {
    expect(createBody('docs', {})).toEqual({ name: 'docs' });
    expect(
      createBody('docs', { team: 't1', embeddingModel: 'nomic', language: 'german', chunkSize: '400' }),
    ).toEqual({
      name: 'docs',
      chunking_strategy: {
        type: 'static',
        static: { max_chunk_size_tokens: 400, chunk_overlap_tokens: 200 },
      },
      corral: { team_id: 't1', embedding_model: 'nomic', language: 'german' },
    });
    expect(() => createBody('docs', { chunkOverlap: '10' })).toThrow(/needs --chunk-size/);
    expect(() => createBody('docs', { chunkSize: 'big' })).toThrow(/invalid --chunk-size/);
  });

  it('types --attr values and refuses pairs without a key', () => {
    expect(parseAttributes(['team=ops', 'year=2024', 'public=true', 'v=1.5'])).toEqual({
      team: 'ops',
      year: 2024,
      public: true,
      v: 1.5,
    });
    expect(parseAttributes(undefined)).toBeUndefined();
    expect(() => parseAttributes(['=x'])).toThrow(/key=value/);
  });

  it('names a hit by its beir_id attribute, else its filename without the extension', () => {
    expect(beirId({ filename: 'doc.1.txt', attributes: null })).toBe('doc.1');
    expect(beirId({ filename: 'x.txt', attributes: { beir_id: 'MED-10' } })).toBe('MED-10');
    expect(beirId({ filename: 'README', attributes: {} })).toBe('README');
  });

  it('shows where a hit is from the corral extension', () => {
    const hit = { file_id: 'f', filename: 'a.pdf', score: 1, attributes: null, content: [] };
    expect(hitPlace({ ...hit, corral: { page_from: 3, page_to: 4, heading_path: ['Intro', 'Scope'] } })).toBe(
      'p. 3-4 · Intro > Scope',
    );
    expect(hitPlace({ ...hit, corral: { page_from: 2, page_to: 2, heading_path: [] } })).toBe('p. 2');
    expect(hitPlace(hit)).toBe('');
  });

  it('turns corpus lines into text files with their BEIR id', () => {
    const [a, b] = corpusItems('{"_id":"d1","title":"T","text":"body"}\n{"_id":2,"text":"only"}\n');
    expect(a!.name).toBe('d1.txt');
    expect((a!.source as { bytes: Buffer }).bytes.toString()).toBe('T\n\nbody');
    expect(a!.attributes).toEqual({ beir_id: 'd1' });
    expect((b!.source as { bytes: Buffer }).bytes.toString()).toBe('only');
  });

  it('lists bases with their document counts', () => {
    const text = renderBases([
      {
        id: 'vs_1',
        name: 'docs',
        usage_bytes: 2048,
        status: 'completed',
        file_counts: { in_progress: 0, completed: 3, failed: 1, cancelled: 0, total: 4 },
        corral: {
          team_id: 't1',
          embedding_model: null,
          language: 'english',
          generation: 1,
          building_generation: null,
        },
      },
    ]);
    expect(text).toMatch(/^ID\s+NAME\s+TEAM\s+DOCUMENTS\s+USAGE\s+STATUS\n/);
    expect(text).toMatch(/vs_1\s+docs\s+t1\s+3\/4 \(1 failed\)\s+2\.0 KB\s+completed/);
  });
});

describe('BEIR metrics', () => {
  it('computes nDCG@10 with linear gains, recall and MRR', () => {
    const qrels = parseQrels('query-id\tcorpus-id\tscore\nq1\ta\t2\nq1\tb\t1\nq2\tc\t1\nq2\tz\t0\n');
    expect(qrels.get('q2')?.size).toBe(1);
    const ranked = new Map([
      ['q1', ['b', 'b', 'x', 'a']],
      ['q2', ['y', 'c']],
    ]);
    const r = score(ranked, qrels);
    const dcg1 = 1 / Math.log2(2) + 2 / Math.log2(4);
    const idcg1 = 2 / Math.log2(2) + 1 / Math.log2(3);
    const ndcg2 = 1 / Math.log2(3);
    expect(r.queries).toBe(2);
    expect(r.ndcg10).toBeCloseTo((dcg1 / idcg1 + ndcg2) / 2, 10);
    expect(r.recall10).toBe(1);
    expect(r.mrr10).toBeCloseTo((1 + 0.5) / 2, 10);
  });

  it('reads queries and refuses lines without an id', () => {
    expect(parseQueries('{"_id":1,"text":"hi"}\n\n')).toEqual([{ id: '1', text: 'hi' }]);
    expect(() => parseQueries('{"text":"hi"}')).toThrow(/line 1/);
  });
});
