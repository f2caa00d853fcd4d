/** PDF text layer via pdf.js (pdfjs-dist's legacy build, the one meant for Node). */
import { dirname, join } from 'node:path';
import { ParseError, type Block, type ParsedDocument, type ParseLimits } from './parsing.types';

interface PdfItem {
  str: string;
  transform: number[];
  width: number;
  height: number;
  hasEOL: boolean;
}

let fontsDir: string | undefined;
function standardFonts(): string {
  // Without the standard fonts pdf.js warns on every PDF that uses the base 14 fonts.
  fontsDir ??= join(dirname(require.resolve('pdfjs-dist/package.json')), 'standard_fonts') + '/';
  return fontsDir;
}

export async function parsePdf(bytes: Uint8Array, limits: ParseLimits): Promise<ParsedDocument> {
  const tail = Buffer.from(bytes.subarray(Math.max(0, bytes.length - 2048))).toString('latin1');
  if (!tail.includes('%%EOF')) {
    throw new ParseError(
      'corrupt',
      'the PDF is truncated: it has no end-of-file marker (%%EOF); upload the complete file',
    );
  }
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const task = pdfjs.getDocument({
    data: new Uint8Array(bytes), // pdf.js takes ownership of (and detaches) the buffer it is given
    isEvalSupported: false,
    useSystemFonts: false,
    disableFontFace: true,
    standardFontDataUrl: standardFonts(),
    verbosity: 0,
  });
  let doc: Awaited<typeof task.promise>;
  try {
    doc = await task.promise;
  } catch (e) {
    await task.destroy().catch(() => undefined);
    const name = e instanceof Error ? e.name : '';
    if (name === 'PasswordException') {
      throw new ParseError(
        'unsupported_type',
        'the PDF is password-protected; remove the password and upload it again',
      );
    }
    throw new ParseError(
      'corrupt',
      `the PDF is damaged and cannot be read (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  try {
    if (doc.numPages > limits.maxPages) {
      throw new ParseError(
        'too_large',
        `the PDF has ${doc.numPages} pages, more than the limit of ${limits.maxPages}`,
      );
    }
    const blocks: Block[] = [];
    for (let p = 1; p <= doc.numPages; p++) {
      const page = await doc.getPage(p);
      try {
        const content = await page.getTextContent();
        const items = content.items.filter((i) => 'str' in i) as unknown as PdfItem[];
        for (const text of paragraphs(items))
          blocks.push({ text, headingPath: [], page: p, kind: 'paragraph' });
      } catch (e) {
        if (e instanceof ParseError) throw e;
        throw new ParseError(
          'corrupt',
          `page ${p} of the PDF is damaged (${e instanceof Error ? e.message : String(e)})`,
        );
      } finally {
        page.cleanup();
      }
    }
    if (blocks.length === 0) {
      throw new ParseError('no_text', 'the PDF has no text layer (scanned?); OCR is not supported');
    }
    const meta = await doc.getMetadata().catch(() => null);
    const info = meta?.info as { Title?: unknown } | undefined;
    // Producers often fill Title with the source file's name ("10811.exe", "report.doc"): not a title.
    const raw = typeof info?.Title === 'string' ? info.Title.trim() : '';
    const title = raw && !/^[\w\- ]+\.[a-z0-9]{2,4}$/i.test(raw) ? raw : null;
    return { type: 'pdf', pages: doc.numPages, title, blocks };
  } finally {
    await doc.destroy();
  }
}

/**
 * Groups a page's text items into paragraphs. Items are kept in content-stream order, which is
 * the author's reading order (columns stay whole; sorting by position would interleave them).
 */
function paragraphs(items: PdfItem[]): string[] {
  const out: string[] = [];
  let para = '';
  let line = '';
  let lastY: number | null = null;
  let lastHeight = 0;
  let lineY: number | null = null;
  let prevEnd: number | null = null;

  const endLine = () => {
    const t = line.replace(/\s+/g, ' ').trim();
    line = '';
    prevEnd = null;
    if (!t) return false;
    if (!para) para = t;
    else if (/\p{L}-$/u.test(para) && /^\p{Ll}/u.test(t))
      para = para.slice(0, -1) + t; // re-joins a hyphenated word
    else if (para.endsWith('-')) para += t;
    else para += ' ' + t;
    return true;
  };
  const endPara = () => {
    endLine();
    if (para) out.push(para);
    para = '';
  };

  for (const item of items) {
    const x = item.transform[4] ?? 0;
    const y = item.transform[5] ?? 0;
    const size = Math.abs(item.transform[3] ?? 0) || item.height || 10;
    if (item.str) {
      if (lineY === null) {
        // First item of a new line: a big vertical gap, or a jump up (next column), starts a paragraph.
        if (lastY !== null && (y > lastY + size * 0.5 || lastY - y > Math.max(lastHeight, size) * 1.8))
          endPara();
        lineY = y;
      } else if (
        prevEnd !== null &&
        x > prevEnd + size * 0.15 &&
        !/\s$/.test(line) &&
        !/^\s/.test(item.str)
      ) {
        line += ' ';
      }
      line += item.str;
      prevEnd = x + item.width;
      lastHeight = size;
    }
    if (item.hasEOL) {
      if (!endLine() && lineY === null && para) endPara(); // an empty line separates paragraphs
      if (lineY !== null) lastY = lineY;
      lineY = null;
    }
  }
  endPara();
  return out;
}
