// Uploads that cannot be indexed: each fails with its ParseFailure and a message that says why.
import { strToU8, zipSync } from 'fflate';
import { parseDocument, ParseError, type ParseFailure, type ParseLimits } from './index';
import { docxZip, lieAboutSizes, minimalPdf, wordXml } from './testing/fixtures';

async function failure(
  bytes: Uint8Array,
  name: string,
  limits?: Partial<ParseLimits>,
): Promise<{ failure: ParseFailure; message: string }> {
  try {
    await parseDocument(bytes, name, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(ParseError);
    const pe = e as ParseError;
    return { failure: pe.failure, message: pe.message };
  }
  throw new Error(`${name} parsed, but should have failed`);
}

describe('bad input', () => {
  it('a 0-byte file is empty', async () => {
    expect(await failure(new Uint8Array(0), 'a.pdf')).toEqual({
      failure: 'empty',
      message: 'the file is empty (0 bytes)',
    });
  });

  it('a file over maxBytes is too_large, before any parsing', async () => {
    const r = await failure(strToU8('hello world'), 'a.txt', { maxBytes: 5 });
    expect(r).toEqual({
      failure: 'too_large',
      message: 'the file is 11 bytes, more than the limit of 5 bytes',
    });
  });

  it('a PDF over maxPages is too_large', async () => {
    const r = await failure(minimalPdf([['a'], ['b'], ['c']]), 'a.pdf', { maxPages: 2 });
    expect(r).toEqual({ failure: 'too_large', message: 'the PDF has 3 pages, more than the limit of 2' });
  });

  it('unknown binary is unsupported_type, whatever its name', async () => {
    const png = new Uint8Array([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52,
    ]);
    expect((await failure(png, 'report.pdf')).failure).toBe('unsupported_type');
    const noise = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256);
    expect((await failure(noise, 'data.docx')).failure).toBe('unsupported_type');
    const ole = new Uint8Array([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0, 0, 0]);
    expect(await failure(ole, 'old.doc')).toMatchObject({
      failure: 'unsupported_type',
      message: expect.stringContaining('save it as .docx'),
    });
  });

  it('a .pdf name on Markdown content parses as Markdown: the bytes decide', async () => {
    const doc = await parseDocument(strToU8('# Notes\n\nNot a PDF at all.\n'), 'scan.pdf');
    expect(doc.type).toBe('markdown');
  });

  it('a truncated PDF is corrupt', async () => {
    const pdf = minimalPdf([['Some text that is cut off']]);
    expect((await failure(pdf.subarray(0, Math.floor(pdf.length * 0.6)), 'a.pdf')).failure).toBe('corrupt');
  });

  it('a PDF whose structure is garbage is corrupt', async () => {
    expect(
      (await failure(strToU8('%PDF-1.7\nthis is no pdf structure at all\n%%EOF\n'), 'a.pdf')).failure,
    ).toBe('corrupt');
  });

  it('a PDF without a text layer is no_text, saying OCR is not supported', async () => {
    expect(await failure(minimalPdf([[], []]), 'scan.pdf')).toEqual({
      failure: 'no_text',
      message: 'the PDF has no text layer (scanned?); OCR is not supported',
    });
  });

  it('a zip that is not a docx is corrupt when named .docx, unsupported otherwise', async () => {
    const zip = zipSync({ 'notes.txt': strToU8('hello') });
    expect(await failure(zip, 'letter.docx')).toEqual({
      failure: 'corrupt',
      message: 'the file is a zip archive but not a Word document (it has no word/document.xml)',
    });
    expect((await failure(zip, 'archive.zip')).failure).toBe('unsupported_type');
    expect((await failure(zip.subarray(0, 20), 'letter.docx')).failure).toBe('corrupt');
  });

  it('garbage inside a docx is corrupt', async () => {
    const r = await failure(docxZip('this is <<< not xml at all'), 'letter.docx');
    expect(r.failure).toBe('corrupt');
    expect(r.message).toMatch(/^the Word document is damaged/);
  });

  it('a docx whose document has no text is no_text', async () => {
    expect((await failure(docxZip(wordXml([])), 'blank.docx')).failure).toBe('no_text');
  });

  describe('zip bombs', () => {
    // 8 MiB of one character deflates to a few KiB.
    const bomb = docxZip(wordXml(['A'.repeat(8 * 1024 * 1024)]));
    const limits = { maxUnzippedBytes: 1024 * 1024 };

    it('a docx inflating past maxUnzippedBytes is zip_bomb', async () => {
      expect(bomb.length).toBeLessThan(64 * 1024);
      const r = await failure(bomb, 'bomb.docx', limits);
      expect(r.failure).toBe('zip_bomb');
      expect(r.message).toMatch(/inflate to 8\.0 MiB, more than the limit of 1\.0 MiB/);
    });

    it('lying declared sizes do not fool the check: entries are really inflated', async () => {
      const r = await failure(lieAboutSizes(bomb, 100), 'bomb.docx', limits);
      expect(r.failure).toBe('zip_bomb');
      expect(r.message).toMatch(/inflates to more than 1\.0 MiB/);
    });

    it('too many entries is zip_bomb', async () => {
      const extra = Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => [`word/media/x${i}.xml`, strToU8('<x/>')]),
      );
      const r = await failure(docxZip(wordXml(['hi']), extra), 'many.docx', { maxZipEntries: 20 });
      expect(r).toEqual({
        failure: 'zip_bomb',
        message: 'the Word (DOCX) file holds 53 zip entries, more than the limit of 20',
      });
    });
  });

  it('HTML with only navigation is no_text', async () => {
    const html =
      '<html><head><title>Site</title></head><body><nav><ul><li><a href="/">Home</a></li><li><a href="/about">About</a></li></ul></nav><footer>© Site</footer></body></html>';
    expect(await failure(strToU8(html), 'index.html')).toEqual({
      failure: 'no_text',
      message: 'the HTML document contains no text to index',
    });
  });

  it('a JSON Lines file with a broken line is corrupt, naming the line', async () => {
    expect(await failure(strToU8('{"text":"ok"}\n{"text":"ok"}\n{"text": broken\n'), 'x.jsonl')).toEqual({
      failure: 'corrupt',
      message: expect.stringMatching(/^line 3 of the JSON Lines file is not valid JSON/),
    });
  });

  it('hostile filenames are only a hint and break nothing', async () => {
    const names = [
      '../../etc/passwd',
      'a\0b.md',
      'C:\\Windows\\system32\\x.docx',
      'x'.repeat(10_000),
      '.',
      '',
      '\u202Etxt.exe',
    ];
    for (const name of names) {
      const doc = await parseDocument(strToU8('# Heading\n\nBody text.\n'), name);
      expect(doc.blocks.map((b) => b.text)).toEqual(['Heading', 'Body text.']);
    }
    expect((await failure(new Uint8Array(0), 'x'.repeat(10_000) + '\0')).failure).toBe('empty');
  });
});
