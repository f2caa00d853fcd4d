import type { KbActor, KnowledgeApi, SearchOptions } from '../knowledge.service';
import type { SearchHit } from '../knowledge.types';
import { citationsFrom, ground, groundingSchema, type GroundingSource } from './grounding';

const source = (index: number, over: Partial<GroundingSource> = {}): GroundingSource => ({
  index,
  chunk_id: `chunk-${index}`,
  document_id: `file-${index}`,
  knowledge_base_id: 'vs_1',
  filename: `doc${index}.pdf`,
  page: index,
  page_to: index,
  heading_path: [],
  score: 1 / index,
  text: `text ${index}`,
  ...over,
});

describe('citationsFrom', () => {
  const sources = [source(1), source(2), source(3)];

  it('keeps markers of retrieved sources and counts the others as invented', () => {
    const r = citationsFrom('See [1] and [7].', sources);
    expect(r.citations).toEqual([
      { index: 1, chunk_id: 'chunk-1', document_id: 'file-1', filename: 'doc1.pdf', page: 1, score: 1 },
    ]);
    expect(r.invented).toBe(1);
  });

  it('reads lists inside one marker, with or without spaces', () => {
    const r = citationsFrom('A [1, 3] B [2,9] C [ 3 ]', sources);
    expect(r.citations.map((c) => c.index)).toEqual([1, 3, 2]);
    expect(r.invented).toBe(1);
  });

  it('cites each source once, in the order first cited', () => {
    const r = citationsFrom('[2] then [1] then [2] again', sources);
    expect(r.citations.map((c) => c.index)).toEqual([2, 1]);
    expect(r.invented).toBe(0);
  });

  it('treats [0] and every marker as invented when nothing was retrieved', () => {
    expect(citationsFrom('[0] [1]', sources).invented).toBe(1);
    expect(citationsFrom('[1] [2]', [])).toEqual({ citations: [], invented: 2 });
  });

  it('ignores brackets that are not numeric markers', () => {
    expect(citationsFrom('a [link](x) [b] [1a] [] [1,] text', sources)).toEqual({
      citations: [],
      invented: 0,
    });
  });

  it('gives a null page for unpaged formats', () => {
    const r = citationsFrom('[1]', [source(1, { page: null, page_to: null })]);
    expect(r.citations[0]?.page).toBeNull();
  });
});

describe('groundingSchema', () => {
  it('accepts the object form and a bare array of ids', () => {
    expect(groundingSchema.parse({ bases: ['vs_1'], top_k: 3 })).toEqual({ bases: ['vs_1'], top_k: 3 });
    expect(groundingSchema.parse(['vs_1', 'vs_2'])).toEqual({ bases: ['vs_1', 'vs_2'] });
    expect(
      groundingSchema.parse({ bases: ['a'], filters: { key: 'lang', type: 'eq', value: 'en' } }).filters,
    ).toEqual({ key: 'lang', type: 'eq', value: 'en' });
  });

  it('bounds bases and top_k and refuses unknown fields', () => {
    expect(groundingSchema.safeParse({ bases: [] }).success).toBe(false);
    expect(groundingSchema.safeParse([]).success).toBe(false);
    expect(groundingSchema.safeParse({ bases: Array.from({ length: 9 }, (_, i) => `b${i}`) }).success).toBe(
      false,
    );
    expect(groundingSchema.safeParse({ bases: ['a'], top_k: 0 }).success).toBe(false);
    expect(groundingSchema.safeParse({ bases: ['a'], top_k: 51 }).success).toBe(false);
    expect(groundingSchema.safeParse({ bases: ['a'], topk: 3 }).success).toBe(false);
    expect(
      groundingSchema.safeParse({ bases: ['a'], filters: { key: 'x', type: 'like', value: 1 } }).success,
    ).toBe(false);
  });
});

describe('ground', () => {
  const actor: KbActor = {
    admin: false,
    teamRoles: { t: 'member' },
    defaultTeam: 't',
    userId: null,
    keyId: 'k',
  };
  const hit = (id: string, over: Partial<SearchHit> = {}): SearchHit =>
    ({
      id,
      documentId: `doc-${id}`,
      kbId: 'vs_1',
      filename: 'handbook.pdf',
      pageFrom: 4,
      pageTo: 5,
      headingPath: ['Travel'],
      text: `Chunk ${id} text.`,
      score: 0.5,
      attributes: {},
      stages: {},
      ...over,
    }) as SearchHit;
  const fakeApi = (hits: SearchHit[]) => {
    const calls: { kbIds: string[]; opts: SearchOptions }[] = [];
    const bases: string[] = [];
    const api = {
      search: async (_a: KbActor, kbIds: string[], opts: SearchOptions) => {
        calls.push({ kbIds, opts });
        return { hits, stages: [], tookMs: 1 };
      },
      getBase: async (_a: KbActor, id: string) => {
        bases.push(id);
        return { id };
      },
    } as unknown as KnowledgeApi;
    return { api, calls, bases };
  };

  it('searches the last user message and numbers the hits in a system message in front', async () => {
    const { api, calls } = fakeApi([hit('a'), hit('b', { pageFrom: null, pageTo: null, headingPath: [] })]);
    const messages = [
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'answer' },
      { role: 'user', content: '  what about travel?  ' },
    ];
    const r = await ground(api, actor, messages, {
      bases: ['vs_1'],
      top_k: 2,
      filters: { key: 'lang', type: 'eq', value: 'en' },
    });
    expect(calls).toEqual([
      {
        kbIds: ['vs_1'],
        opts: { query: 'what about travel?', topK: 2, filter: { key: 'lang', type: 'eq', value: 'en' } },
      },
    ]);
    expect(r.messages.slice(1)).toEqual(messages);
    const system = r.messages[0]!;
    expect(system.role).toBe('system');
    expect(system.content).toContain('[1] handbook.pdf, pages 4-5 (Travel)\nChunk a text.');
    expect(system.content).toContain('[2] handbook.pdf\nChunk b text.');
    expect(system.content).toMatch(/only the numbered sources/);
    expect(system.content).toMatch(/do not know/);
    expect(r.sources.map((s) => [s.index, s.chunk_id, s.page])).toEqual([
      [1, 'a', 4],
      [2, 'b', null],
    ]);
  });

  it('still answers when nothing is retrieved, telling the model no sources were found', async () => {
    const { api } = fakeApi([]);
    const r = await ground(api, actor, [{ role: 'user', content: 'unknown topic' }], { bases: ['vs_1'] });
    expect(r.sources).toEqual([]);
    expect(r.messages).toHaveLength(2);
    expect(r.messages[0]?.content).toMatch(/No sources were found/);
  });

  it('checks the bases without searching when there is no user message', async () => {
    const { api, calls, bases } = fakeApi([hit('a')]);
    const r = await ground(api, actor, [{ role: 'system', content: 'be brief' }], { bases: ['x', 'x', 'y'] });
    expect(calls).toEqual([]);
    expect(bases).toEqual(['x', 'y']);
    expect(r.sources).toEqual([]);
  });

  it('lets a not-found base fail the request', async () => {
    const api = {
      search: async () => {
        throw new Error('No vector store found');
      },
    } as unknown as KnowledgeApi;
    await expect(ground(api, actor, [{ role: 'user', content: 'q' }], { bases: ['other'] })).rejects.toThrow(
      'No vector store found',
    );
  });
});
