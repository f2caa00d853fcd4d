/**
 * Decides a document's type from its bytes. The client's claimed type is never read and the
 * filename's extension only breaks ties between text types (any text is valid Markdown, say).
 */
import { unzipSync } from 'fflate';
import Papa from 'papaparse';
import type { DocType } from './parsing.types';
import { decodeText, extensionOf } from './text-util';

/** What the bytes look like, in more detail than a DocType (parseDocument words its errors from it). */
export type Sniffed =
  | { kind: 'doc'; type: DocType }
  | { kind: 'zip'; names: string[] } // a readable zip with neither word/ nor xl/ parts
  | { kind: 'broken_zip' }
  | { kind: 'ole' } // legacy .doc/.xls
  | { kind: 'binary' };

const TEXT_SAMPLE = 64 * 1024;

export function sniffType(bytes: Uint8Array, filename: string): DocType | null {
  const s = sniff(bytes, filename);
  return s.kind === 'doc' ? s.type : null;
}

export function sniff(bytes: Uint8Array, filename: string): Sniffed {
  if (startsWith(bytes, '%PDF-', 1024)) return { kind: 'doc', type: 'pdf' };
  if (
    bytes[0] === 0x50 &&
    bytes[1] === 0x4b &&
    (bytes[2] === 3 || bytes[2] === 5) &&
    (bytes[3] === 4 || bytes[3] === 6)
  ) {
    return sniffZip(bytes);
  }
  if (startsWith(bytes, '\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1', 0)) return { kind: 'ole' };
  if (!looksLikeText(bytes)) return { kind: 'binary' };
  return { kind: 'doc', type: sniffText(decodeText(bytes.subarray(0, TEXT_SAMPLE)), extensionOf(filename)) };
}

function startsWith(bytes: Uint8Array, magic: string, within: number): boolean {
  const limit = Math.min(bytes.length - magic.length, within);
  outer: for (let at = 0; at <= limit; at++) {
    for (let i = 0; i < magic.length; i++) if (bytes[at + i] !== magic.charCodeAt(i)) continue outer;
    return true;
  }
  return false;
}

function sniffZip(bytes: Uint8Array): Sniffed {
  const names: string[] = [];
  try {
    // The filter sees every central-directory entry and inflates none.
    unzipSync(bytes, {
      filter: (f) => {
        names.push(f.name);
        return false;
      },
    });
  } catch {
    return { kind: 'broken_zip' };
  }
  if (names.includes('word/document.xml')) return { kind: 'doc', type: 'docx' };
  if (names.includes('xl/workbook.xml')) return { kind: 'doc', type: 'xlsx' };
  return { kind: 'zip', names };
}

function looksLikeText(bytes: Uint8Array): boolean {
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  const sample = bytes.subarray(0, TEXT_SAMPLE);
  let control = 0;
  if (!utf16) {
    for (const b of sample) {
      if (b === 0) return false;
      if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) control++;
    }
  }
  // A cut in the middle of a multi-byte character at the sample's end is not binary.
  const decoded = decodeText(sample);
  const replaced = (decoded.match(/\uFFFD/g) ?? []).length;
  return control <= sample.length * 0.01 && replaced <= Math.max(4, decoded.length * 0.02);
}

const TEXT_EXT: Record<string, DocType> = {
  md: 'markdown',
  markdown: 'markdown',
  mdx: 'markdown',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  csv: 'csv',
  tsv: 'csv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  txt: 'text',
  text: 'text',
};

function sniffText(text: string, ext: string): DocType {
  const candidates = new Set<DocType>(['text', 'markdown']);
  const head = text.slice(0, 4096).trimStart().toLowerCase();
  const strongHtml = /^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!doctype html|<html[\s>])/.test(head);
  if (strongHtml || /<(head|body)[\s>]/.test(head) || htmlTagDensity(text) > 0.5) candidates.add('html');
  if (isJsonLines(text)) candidates.add('jsonl');
  if (isDelimited(text)) candidates.add('csv');
  const hinted = TEXT_EXT[ext];
  if (strongHtml && hinted !== 'markdown') return 'html';
  // A .txt name says only "text", so it does not outvote structure found in the content.
  if (hinted && hinted !== 'text' && candidates.has(hinted)) return hinted;
  for (const t of ['html', 'jsonl', 'csv'] as const) if (candidates.has(t)) return t;
  if (hinted === 'text') return 'text';
  return markdownSignals(text) ? 'markdown' : 'text';
}

/** Share of non-empty lines that hold an HTML block tag. */
function htmlTagDensity(text: string): number {
  const lines = text.split('\n', 200).filter((l) => l.trim());
  if (lines.length === 0) return 0;
  const tagged = lines.filter((l) =>
    /<\/?(p|div|h[1-6]|ul|ol|li|table|tr|td|span|a|section|article)[\s>]/i.test(l),
  );
  return tagged.length / lines.length;
}

/** Every line an object's opening brace, and the first one valid JSON (the parser names a bad later line). */
function isJsonLines(text: string): boolean {
  const lines = text.split('\n', 50).filter((l) => l.trim());
  if (lines.length === 0 || !lines.every((l) => l.trimStart().startsWith('{'))) return false;
  try {
    const v: unknown = JSON.parse(lines[0] as string);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** Two or more rows, every one with the same two-or-more field count. */
function isDelimited(text: string): boolean {
  const sample = text.split('\n', 30).slice(0, -1).join('\n') || text;
  const r = Papa.parse<string[]>(sample, { skipEmptyLines: true, delimitersToGuess: [',', '\t', ';', '|'] });
  const rows = r.data;
  if (rows.length < 2 || r.errors.some((e) => e.type === 'Quotes')) return false;
  const width = rows[0]?.length ?? 0;
  return width >= 2 && rows.every((row) => row.length === width);
}

function markdownSignals(text: string): boolean {
  const sample = text.slice(0, 16 * 1024);
  return (
    /^---\r?\n[\s\S]*?\r?\n---\r?\n/.test(sample) ||
    /^#{1,6} \S/m.test(sample) ||
    /^```/m.test(sample) ||
    /\[[^\]\n]+\]\([^)\s]+\)/.test(sample) ||
    /^\s*\|.*\|\s*$/m.test(sample)
  );
}
