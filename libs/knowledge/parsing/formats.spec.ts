// Each format from bytes built here: the sniffed type wins over the filename, and the blocks keep
// what a reader needs (headers on rows, heading paths, page numbers).
import { strToU8 } from 'fflate';
import { parseDocument, sniffType } from './index';
import { docxZip, minimalPdf, wordXml } from './testing/fixtures';

const u8 = (s: string) => strToU8(s);

describe('sniffType', () => {
  it.each([
    ['<!doctype html><html><body><p>Hi</p></body></html>', 'page.txt', 'html'],
    ['# Title\n\nSome *text*.\n', 'notes', 'markdown'],
    ['# Title\n\nSome *text*.\n', 'notes.txt', 'text'],
    ['name,age\nAda,36\nAlan,41\n', 'people.txt', 'csv'],
    ['{"text":"a"}\n{"text":"b"}\n', 'data.txt', 'jsonl'],
    ['Just a sentence, with a comma.\nAnother line here.\n', 'x.bin', 'text'],
    ['Just words.\n', 'readme.md', 'markdown'],
    ['# Title\n', 'x.pdf', 'markdown'],
  ])('%j named %s is %s', (content, name, type) => {
    expect(sniffType(u8(content), name)).toBe(type);
  });

  it('knows PDF, DOCX and XLSX by their bytes whatever the name', () => {
    expect(sniffType(minimalPdf([['x']]), 'a.docx')).toBe('pdf');
    expect(sniffType(docxZip(wordXml(['x'])), 'a.pdf')).toBe('docx');
    expect(sniffType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), 'a.txt')).toBeNull();
  });
});

describe('parseDocument formats', () => {
  it('PDF: one block per paragraph with its 1-based page', async () => {
    const doc = await parseDocument(minimalPdf([['Alpha on one'], [], ['Gamma on three']]), 'x.pdf');
    expect(doc).toMatchObject({ type: 'pdf', pages: 3 });
    expect(doc.blocks.map((b) => [b.text, b.page])).toEqual([
      ['Alpha on one', 1],
      ['Gamma on three', 3],
    ]);
  });

  it('DOCX: paragraphs in order', async () => {
    const doc = await parseDocument(docxZip(wordXml(['First paragraph', 'Second paragraph'])), 'x.docx');
    expect(doc.blocks.map((b) => b.text)).toEqual(['First paragraph', 'Second paragraph']);
  });

  it('CSV: each row as header: value pairs', async () => {
    const doc = await parseDocument(
      u8('name,role,city\nAda,engineer,London\n"Hopper, Grace",admiral,\n'),
      'staff.csv',
    );
    expect(doc.type).toBe('csv');
    expect(doc.blocks.map((b) => [b.kind, b.text])).toEqual([
      ['row', 'name: Ada; role: engineer; city: London'],
      ['row', 'name: Hopper, Grace; role: admiral'],
    ]);
  });

  it('XLSX: per sheet, rows named by the header row, the sheet name as heading', async () => {
    const mod = await import('exceljs');
    const ExcelJS = (mod as unknown as { default?: typeof mod }).default ?? mod;
    const wb = new ExcelJS.Workbook();
    const sheet = wb.addWorksheet('Inventory');
    sheet.addRow(['Item', 'Count', 'Due']);
    sheet.addRow(['Widgets', 12, new Date(Date.UTC(2026, 0, 2))]);
    sheet.addRow(['Gadgets', { formula: 'B2*2', result: 24 }]);
    const bytes = new Uint8Array(await wb.xlsx.writeBuffer());
    const doc = await parseDocument(bytes, 'stock.bin');
    expect(doc.type).toBe('xlsx');
    expect(doc.blocks[0]).toEqual({
      text: 'Inventory',
      headingPath: ['Inventory'],
      page: null,
      kind: 'heading',
    });
    expect(doc.blocks[1]?.text).toMatch(/^Item: Widgets; Count: 12; Due: .*2026/);
    expect(doc.blocks[2]).toEqual({
      text: 'Item: Gadgets; Count: 24',
      headingPath: ['Inventory'],
      page: null,
      kind: 'row',
    });
  });

  it('JSON Lines: the text field, else the string fields', async () => {
    const doc = await parseDocument(
      u8('{"id":1,"text":"Hello there"}\n\n{"q":"Why?","a":"Because","n":3}\n'),
      'x.jsonl',
    );
    expect(doc.blocks.map((b) => b.text)).toEqual(['Hello there', 'q: Why?; a: Because']);
  });

  it('Markdown: headings nest, front matter and markup dropped, code and lists kept', async () => {
    const md =
      '---\ntitle: Guide\nsecret: front-matter-value\n---\n\n# Top\n\nIntro [link](http://x.example).\n\n## Sub\n\n- one\n- two\n\n```js\nlet a = 1;\n```\n\n# Next\n\nEnd.\n';
    const doc = await parseDocument(u8(md), 'guide.md');
    expect(doc.title).toBe('Guide');
    expect(doc.blocks.map((b) => [b.kind, b.text, b.headingPath.join('/')])).toEqual([
      ['heading', 'Top', 'Top'],
      ['paragraph', 'Intro link.', 'Top'],
      ['heading', 'Sub', 'Top/Sub'],
      ['list', '- one\n- two', 'Top/Sub'],
      ['code', 'let a = 1;', 'Top/Sub'],
      ['heading', 'Next', 'Next'],
      ['paragraph', 'End.', 'Next'],
    ]);
  });

  it('HTML: headings kept, no script or style text', async () => {
    const html =
      '<html><head><title>T</title><style>.x{color:red}</style><script>var secret=1</script></head><body><h1>Main</h1><p>Hello <b>bold</b> world.</p><script>alert("no")</script><h2>Part</h2><ul><li>a</li><li>b</li></ul></body></html>';
    const doc = await parseDocument(u8(html), 'x.html');
    const text = doc.blocks.map((b) => b.text).join('\n');
    expect(text).not.toMatch(/secret|alert|color/);
    expect(doc.blocks.map((b) => [b.kind, b.text, b.headingPath.join('/')])).toEqual([
      ['heading', 'Main', 'Main'],
      ['paragraph', 'Hello bold world.', 'Main'],
      ['heading', 'Part', 'Main/Part'],
      ['list', '- a\n- b', 'Main/Part'],
    ]);
  });

  it('plain text: paragraphs split on blank lines; UTF-16 with a BOM decodes', async () => {
    expect(
      (await parseDocument(u8('One line.\nSame para.\n\nSecond.'), 'a.txt')).blocks.map((b) => b.text),
    ).toEqual(['One line.\nSame para.', 'Second.']);
    const utf16 = new Uint8Array([0xff, 0xfe, ...Array.from(Buffer.from('Grüße aus Köln', 'utf16le'))]);
    expect((await parseDocument(utf16, 'a.txt')).blocks[0]?.text).toBe('Grüße aus Köln');
  });
});
