/** DOCX (mammoth → HTML → blocks) and XLSX (exceljs, one row block per data row). */
import { strFromU8, unzipSync } from 'fflate';
import { blocksFromDom, type DomNode } from './html-blocks';
import { ParseError, type Block, type ParsedDocument } from './parsing.types';
import { oneLine } from './text-util';

export async function parseDocx(bytes: Uint8Array): Promise<ParsedDocument> {
  const mammoth = await import('mammoth');
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes) })).value;
  } catch (e) {
    throw new ParseError('corrupt', `the Word document is damaged and cannot be read (${errText(e)})`);
  }
  const { parseHTML } = await import('linkedom');
  const { document } = parseHTML(`<!doctype html><html><body>${html}</body></html>`);
  const blocks = blocksFromDom(document.body as unknown as DomNode);
  return { type: 'docx', pages: null, title: coreTitle(bytes), blocks };
}

// Structural view of exceljs's cell/row API (its typings need a default-import interop we avoid).
interface XCell {
  text: string;
}
interface XRow {
  eachCell(opts: { includeEmpty: boolean }, cb: (cell: XCell, col: number) => void): void;
}
interface XSheet {
  name: string;
  state?: string;
  eachRow(opts: { includeEmpty: boolean }, cb: (row: XRow, n: number) => void): void;
}

export async function parseXlsx(bytes: Uint8Array): Promise<ParsedDocument> {
  const mod = await import('exceljs');
  const ExcelJS = (mod as unknown as { default?: typeof mod }).default ?? mod;
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(Buffer.from(bytes) as unknown as ArrayBuffer);
  } catch (e) {
    throw new ParseError('corrupt', `the Excel workbook is damaged and cannot be read (${errText(e)})`);
  }
  const blocks: Block[] = [];
  for (const sheet of workbook.worksheets as unknown as XSheet[]) {
    if (sheet.state && sheet.state !== 'visible') continue;
    const rows: string[][] = [];
    sheet.eachRow({ includeEmpty: false }, (row) => {
      const cells: string[] = [];
      row.eachCell({ includeEmpty: true }, (cell, col) => {
        cells[col - 1] = oneLine(cellText(cell));
      });
      if (cells.some(Boolean)) rows.push(Array.from(cells, (c) => c ?? ''));
    });
    const [header, ...data] = rows;
    if (!header) continue;
    const path = [sheet.name];
    blocks.push({ text: sheet.name, headingPath: path, page: null, kind: 'heading' });
    if (data.length === 0) {
      blocks.push({ text: header.filter(Boolean).join('; '), headingPath: path, page: null, kind: 'row' });
      continue;
    }
    const names = header.map((h, i) => h || `column ${i + 1}`);
    for (const row of data) {
      const text = row
        .map((v, i) => (v ? `${names[i] ?? `column ${i + 1}`}: ${v}` : ''))
        .filter(Boolean)
        .join('; ');
      if (text) blocks.push({ text, headingPath: path, page: null, kind: 'row' });
    }
  }
  return { type: 'xlsx', pages: null, title: null, blocks };
}

function cellText(cell: XCell): string {
  try {
    return cell.text ?? '';
  } catch {
    return ''; // exceljs throws on some malformed shared-formula cells; one cell is not worth the sheet
  }
}

/** dc:title from docProps/core.xml (Word's File › Properties), when the author set one. */
function coreTitle(bytes: Uint8Array): string | null {
  try {
    const core = unzipSync(bytes, {
      filter: (f) => f.name === 'docProps/core.xml' && f.originalSize < 1 << 20,
    })['docProps/core.xml'];
    const m = core && /<dc:title>([^<]*)<\/dc:title>/.exec(strFromU8(core));
    const title = m?.[1] ? oneLine(decodeEntities(m[1])) : '';
    return title || null;
  } catch {
    return null;
  }
}

function decodeEntities(s: string): string {
  return s.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] ?? '',
  );
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
