// ParsePool parses on worker threads (the compiled dist/ script; `npm test` builds first).
import { strToU8 } from 'fflate';
import { parseDocument, ParseError, ParsePool } from './index';
import { minimalPdf } from './testing/fixtures';

/** A Markdown document big enough that parsing it takes a while. */
const big = strToU8(
  Array.from(
    { length: 4000 },
    (_, i) => `## Section ${i}\n\nParagraph ${i} with *some* [links](http://x.example/${i}) and \`code\`.\n`,
  ).join('\n'),
);

/** Counts 5 ms timer ticks while `work` runs: a free event loop ticks, a busy one does not. */
async function ticksDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

describe('ParsePool', () => {
  let pool: ParsePool;
  beforeAll(() => {
    pool = new ParsePool({ threads: 2 });
  });
  afterAll(async () => {
    await pool.close();
  });

  it('parses on another thread: the main event loop stays free', async () => {
    const inThread = await ticksDuring(() => parseDocument(big, 'big.md'));
    const pooled = await ticksDuring(() => pool.parse(big, 'big.md'));
    // In the calling thread the loop is blocked for the whole parse; in the pool it keeps ticking.
    expect(pooled).toBeGreaterThan(Math.max(5, inThread * 3));
  });

  it('returns the same document as the calling thread', async () => {
    const pdf = minimalPdf([['Page one words'], ['Page two words']]);
    expect(await pool.parse(pdf, 'a.pdf')).toEqual(await parseDocument(pdf, 'a.pdf'));
  });

  it('a ParseError crosses the thread boundary with its failure and message', async () => {
    const err = await pool.parse(minimalPdf([[]]), 'scan.pdf').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParseError);
    expect(err).toMatchObject({
      failure: 'no_text',
      message: 'the PDF has no text layer (scanned?); OCR is not supported',
    });
    await expect(pool.parse(strToU8('hello'), 'a.txt', { maxBytes: 2 })).rejects.toMatchObject({
      failure: 'too_large',
    });
  });

  it('runs many documents through few threads', async () => {
    const docs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => pool.parse(strToU8(`# Doc ${i}\n\nBody ${i}.\n`), `${i}.md`)),
    );
    expect(docs.map((d) => d.blocks[0]?.text)).toEqual([
      'Doc 0',
      'Doc 1',
      'Doc 2',
      'Doc 3',
      'Doc 4',
      'Doc 5',
    ]);
  });

  it('a document over the time limit fails and its thread is replaced', async () => {
    const slow = new ParsePool({ threads: 1, timeoutMs: 1 });
    try {
      await expect(slow.parse(big, 'big.md')).rejects.toMatchObject({
        failure: 'too_large',
        message: 'parsing did not finish within 0 s',
      });
    } finally {
      await slow.close();
    }
  });

  it('refuses work after close', async () => {
    const p = new ParsePool({ threads: 1 });
    await p.close();
    await expect(p.parse(strToU8('x'), 'x.txt')).rejects.toThrow('the ParsePool is closed');
  });
});
