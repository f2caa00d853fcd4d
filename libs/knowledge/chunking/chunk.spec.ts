// Chunks are exact spans of the document text, within their token limit, overlapping, and
// labelled with the headings and pages they come from.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from '../parsing';
import type { Block, ParsedDocument } from '../parsing';
import { chunkDocument, documentText, estimateTokens, type Chunk } from './index';

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ') + '.';
const para = (text: string, headingPath: string[] = [], page: number | null = null): Block => ({
  text,
  headingPath,
  page,
  kind: 'paragraph',
});
const heading = (headingPath: string[]): Block => ({
  text: headingPath[headingPath.length - 1] as string,
  headingPath,
  page: null,
  kind: 'heading',
});
const doc = (blocks: Block[], type: ParsedDocument['type'] = 'markdown'): ParsedDocument => ({
  type,
  pages: null,
  title: null,
  blocks,
});

function expectSpans(
  d: ParsedDocument,
  chunks: Chunk[],
  max: number,
  count = estimateTokens,
  wholeWords = true,
) {
  const full = documentText(d);
  chunks.forEach((c, i) => {
    expect(c.ordinal).toBe(i);
    expect(c.text).toBe(full.slice(c.charStart, c.charEnd));
    expect(c.tokenCount).toBe(count(c.text));
    expect(c.tokenCount).toBeLessThanOrEqual(max);
    if (!wholeWords) return;
    // Never inside a word: both ends sit on whitespace or the text's ends.
    expect(c.charStart === 0 || /\s/.test(full.charAt(c.charStart - 1))).toBe(true);
    expect(c.charEnd === full.length || /\s/.test(full.charAt(c.charEnd))).toBe(true);
  });
  // Together they cover every character that is not a separator.
  let reach = 0;
  for (const c of chunks) {
    expect(full.slice(reach, c.charStart).trim()).toBe('');
    reach = Math.max(reach, c.charEnd);
  }
  expect(full.slice(reach).trim()).toBe('');
  if (!wholeWords) return;
  const covered = new Set(chunks.flatMap((c) => c.text.split(/\s+/)));
  for (const w of full.split(/\s+/).filter(Boolean)) expect(covered.has(w)).toBe(true);
}

describe('documentText', () => {
  it('joins blocks with a blank line', () => {
    expect(documentText(doc([para('a'), para('b c')]))).toBe('a\n\nb c');
  });
});

describe('static chunking (OpenAI semantics)', () => {
  const d = doc([para(words(3000, 'w'), [], 1), para(words(500, 'v'), [], 2)], 'pdf');

  it('chunks within max_chunk_size_tokens, overlapping by about chunk_overlap_tokens', () => {
    const chunks = chunkDocument(d, {
      type: 'static',
      static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 50 },
    });
    expectSpans(d, chunks, 200);
    expect(chunks.length).toBeGreaterThan(10);
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1] as Chunk;
      const cur = chunks[i] as Chunk;
      expect(cur.charStart).toBeLessThan(prev.charEnd);
      const shared = estimateTokens(documentText(d).slice(cur.charStart, prev.charEnd));
      expect(shared).toBeGreaterThanOrEqual(40);
      expect(shared).toBeLessThanOrEqual(50);
    }
  });

  it('zero overlap gives adjacent chunks; pages span the blocks covered', () => {
    const chunks = chunkDocument(d, {
      type: 'static',
      static: { max_chunk_size_tokens: 400, chunk_overlap_tokens: 0 },
    });
    expectSpans(d, chunks, 400);
    for (let i = 1; i < chunks.length; i++)
      expect((chunks[i] as Chunk).charStart).toBeGreaterThanOrEqual((chunks[i - 1] as Chunk).charEnd);
    expect(chunks[0]).toMatchObject({ pageFrom: 1, pageTo: 1 });
    expect(chunks.some((c) => c.pageFrom === 1 && c.pageTo === 2)).toBe(true);
    expect(chunks[chunks.length - 1]).toMatchObject({ pageTo: 2 });
  });

  it('holds to a custom token counter too', () => {
    const perChar = (t: string) => t.length; // far stricter than the estimate
    const chunks = chunkDocument(
      d,
      { type: 'static', static: { max_chunk_size_tokens: 300, chunk_overlap_tokens: 30 } },
      { countTokens: perChar },
    );
    expectSpans(d, chunks, 300, perChar);
  });
});

describe('auto chunking', () => {
  const d = doc([
    heading(['Intro']),
    para(words(150, 'intro'), ['Intro']),
    heading(['Install']),
    para(words(700, 'inst'), ['Install']),
    heading(['Install', 'Linux']),
    para(words(300, 'linux'), ['Install', 'Linux']),
    heading(['Usage']),
    para(words(40, 'use'), ['Usage']),
  ]);
  const chunks = chunkDocument(d, { type: 'auto' });

  it('stays within the default 512-token window', () => {
    expectSpans(d, chunks, 512);
  });

  it('never merges across a top-level section', () => {
    const full = documentText(d);
    for (const c of chunks) {
      const tops = new Set(
        d.blocks
          .filter((b, i) => {
            const start = d.blocks.slice(0, i).reduce((n, x) => n + x.text.length + 2, 0);
            return start < c.charEnd && start + b.text.length > c.charStart;
          })
          .map((b) => b.headingPath[0]),
      );
      expect(tops.size).toBe(1);
    }
    expect(chunks.map((c) => c.headingPath[0])).toEqual(
      expect.arrayContaining(['Intro', 'Install', 'Usage']),
    );
    expect(full.slice((chunks[0] as Chunk).charStart, (chunks[0] as Chunk).charEnd)).toMatch(
      /^Intro\n\nintro0 /,
    );
  });

  it('a chunk carries the heading path where it starts; a heading starts its chunk', () => {
    const linux = chunks.find((c) => c.text.startsWith('Linux'));
    expect(linux?.headingPath).toEqual(['Install', 'Linux']);
    expect(chunks.find((c) => c.text.startsWith('Usage'))?.headingPath).toEqual(['Usage']);
    for (const c of chunks) expect(c.text.endsWith('Linux')).toBe(false);
  });

  it('overlaps by 10–15 % inside a long section', () => {
    const install = chunks.filter((c) => c.headingPath[0] === 'Install' && c.text.includes('inst'));
    expect(install.length).toBeGreaterThanOrEqual(2);
    const [a, b] = install as [Chunk, Chunk];
    const shared = estimateTokens(documentText(d).slice(b.charStart, a.charEnd));
    expect(shared).toBeGreaterThanOrEqual(512 * 0.1);
    expect(shared).toBeLessThanOrEqual(512 * 0.15);
  });

  it('sizes to a smaller embedding window', () => {
    const small = chunkDocument(d, { type: 'auto' }, { windowTokens: 128 });
    expectSpans(d, small, 128);
    expect(small.length).toBeGreaterThan(chunks.length);
  });

  it('prefers a sentence end to a cut mid-sentence', () => {
    const sentences = Array.from(
      { length: 60 },
      (_, i) => `Sentence number ${i} says a few more words here.`,
    ).join(' ');
    const one = doc([para(sentences)]);
    const cs = chunkDocument(one, { type: 'auto' }, { windowTokens: 100 });
    expectSpans(one, cs, 100);
    for (const c of cs) expect(c.text).toMatch(/\.$/);
  });

  it('cuts a word only when it alone exceeds the limit, and keeps page numbers', () => {
    const huge = doc([para('short words first', [], 3), para('x'.repeat(5000), [], 4)], 'pdf');
    const cs = chunkDocument(huge, { type: 'auto' }, { windowTokens: 100 });
    expectSpans(huge, cs, 100, estimateTokens, false);
    expect(cs[0]?.text.startsWith('short words first')).toBe(true);
    expect(cs[0]).toMatchObject({ pageFrom: 3 });
    expect(cs[cs.length - 1]).toMatchObject({ pageFrom: 4, pageTo: 4 });
  });

  it('an empty document has no chunks', () => {
    expect(chunkDocument(doc([]), { type: 'auto' })).toEqual([]);
  });
});

describe('chunking the docs-sample set', () => {
  const dir = join(__dirname, '../../../../shared/docs-sample');
  const present = existsSync(dir);
  if (!present) console.warn(`docs-sample chunking spec skipped: ${dir} is absent`);
  (present ? it : it.skip)(
    'every document chunks into exact, bounded spans under both strategies',
    async () => {
      for (const sub of readdirSync(dir)) {
        for (const name of readdirSync(join(dir, sub))) {
          const d = await parseDocument(readFileSync(join(dir, sub, name)), name);
          expectSpans(d, chunkDocument(d, { type: 'auto' }), 512);
          expectSpans(
            d,
            chunkDocument(d, {
              type: 'static',
              static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 },
            }),
            800,
          );
        }
      }
    },
  );
});
