/** parseDocument: checks the bytes, sniffs the type, hands them to that format's parser. */
import { parsePdf } from './pdf';
import { parseDocx, parseXlsx } from './office';
import { parseHtml } from './web';
import { parseMarkdown } from './markdown';
import { parseCsv, parseJsonLines, parseText } from './plain';
import { sniff } from './sniff';
import { checkZip } from './zip-guard';
import { decodeText, extensionOf } from './text-util';
import {
  ParseError,
  resolveLimits,
  type DocType,
  type ParsedDocument,
  type ParseLimits,
} from './parsing.types';

const LABEL: Record<DocType, string> = {
  pdf: 'PDF',
  docx: 'Word (DOCX)',
  html: 'HTML',
  markdown: 'Markdown',
  text: 'text',
  csv: 'CSV',
  xlsx: 'Excel (XLSX)',
  jsonl: 'JSON Lines',
};

/**
 * Parses an uploaded document in the calling thread (use ParsePool to keep it off the event loop).
 * The filename is only a hint (it breaks ties between text types and words errors); the bytes decide.
 * Throws ParseError for anything that cannot be indexed.
 */
export async function parseDocument(
  bytes: Uint8Array,
  filename: string,
  limits?: Partial<ParseLimits>,
): Promise<ParsedDocument> {
  const lim = resolveLimits(limits);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('parseDocument needs the document as a Uint8Array');
  if (bytes.length === 0) throw new ParseError('empty', 'the file is empty (0 bytes)');
  if (bytes.length > lim.maxBytes) {
    throw new ParseError(
      'too_large',
      `the file is ${bytes.length} bytes, more than the limit of ${lim.maxBytes} bytes`,
    );
  }
  const name = typeof filename === 'string' ? filename : '';
  const ext = extensionOf(name);
  const s = sniff(bytes, name);
  switch (s.kind) {
    case 'binary':
      throw new ParseError(
        'unsupported_type',
        'the file is not a supported document type (PDF, DOCX, XLSX, HTML, Markdown, text, CSV or JSON Lines)',
      );
    case 'ole':
      throw new ParseError(
        'unsupported_type',
        'the file is a legacy Office document (.doc/.xls); save it as .docx or .xlsx and upload it again',
      );
    case 'broken_zip':
      throw new ParseError(
        'corrupt',
        `the file is a damaged zip archive${ext === 'docx' || ext === 'xlsx' ? ` (not a readable .${ext})` : ''}`,
      );
    case 'zip':
      if (ext === 'docx')
        throw new ParseError(
          'corrupt',
          'the file is a zip archive but not a Word document (it has no word/document.xml)',
        );
      if (ext === 'xlsx')
        throw new ParseError(
          'corrupt',
          'the file is a zip archive but not an Excel workbook (it has no xl/workbook.xml)',
        );
      throw new ParseError(
        'unsupported_type',
        'the file is a zip archive that is neither a Word (DOCX) nor an Excel (XLSX) document',
      );
    case 'doc':
      break;
  }
  const doc = await parseAs(s.type, bytes, lim);
  if (!doc.blocks.some((b) => b.text.trim())) {
    throw new ParseError('no_text', `the ${LABEL[s.type]} document contains no text to index`);
  }
  return doc;
}

async function parseAs(type: DocType, bytes: Uint8Array, lim: ParseLimits): Promise<ParsedDocument> {
  switch (type) {
    case 'pdf':
      return parsePdf(bytes, lim);
    case 'docx':
      checkZip(bytes, 'Word (DOCX)', lim);
      return parseDocx(bytes);
    case 'xlsx':
      checkZip(bytes, 'Excel (XLSX)', lim);
      return parseXlsx(bytes);
    case 'html':
      return parseHtml(decodeText(bytes));
    case 'markdown':
      return parseMarkdown(decodeText(bytes));
    case 'text':
      return parseText(decodeText(bytes));
    case 'csv':
      return parseCsv(decodeText(bytes));
    case 'jsonl':
      return parseJsonLines(decodeText(bytes));
  }
}
