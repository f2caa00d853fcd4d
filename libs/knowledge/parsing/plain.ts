/** Plain text, CSV (papaparse) and JSON Lines. */
import Papa from 'papaparse';
import { ParseError, type Block, type ParsedDocument } from './parsing.types';
import { oneLine, tidy } from './text-util';

export function parseText(source: string): ParsedDocument {
  const blocks: Block[] = source
    .split(/\r?\n\s*\r?\n/)
    .map((p) => tidy(p))
    .filter(Boolean)
    .map((text) => ({ text, headingPath: [], page: null, kind: 'paragraph' as const }));
  return { type: 'text', pages: null, title: null, blocks };
}

/** Each row as `header: value; header: value`, so a retrieved row still says what its values mean. */
export function parseCsv(source: string): ParsedDocument {
  const result = Papa.parse<string[]>(source, {
    skipEmptyLines: 'greedy',
    delimitersToGuess: [',', '\t', ';', '|'],
  });
  const fatal = result.errors.find((e) => e.type === 'Quotes');
  if (fatal && result.data.length <= 1) {
    throw new ParseError(
      'corrupt',
      `the CSV file is malformed at row ${(fatal.row ?? 0) + 1}: ${fatal.message}`,
    );
  }
  const [header, ...rows] = result.data;
  if (!header) return { type: 'csv', pages: null, title: null, blocks: [] };
  const names = header.map((h, i) => oneLine(h) || `column ${i + 1}`);
  const blocks: Block[] = [];
  for (const row of rows.length > 0 ? rows : [header]) {
    const text = row
      .map((v, i) => {
        const value = oneLine(v ?? '');
        return value ? (rows.length > 0 ? `${names[i] ?? `column ${i + 1}`}: ${value}` : value) : '';
      })
      .filter(Boolean)
      .join('; ');
    if (text) blocks.push({ text, headingPath: [], page: null, kind: 'row' });
  }
  return { type: 'csv', pages: null, title: null, blocks };
}

/** Each line an object; its `text` field when it has one, else its string fields as `key: value`. */
export function parseJsonLines(source: string): ParsedDocument {
  const blocks: Block[] = [];
  const lines = source.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new ParseError(
        'corrupt',
        `line ${i + 1} of the JSON Lines file is not valid JSON (${e instanceof Error ? e.message : String(e)})`,
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ParseError('corrupt', `line ${i + 1} of the JSON Lines file is not a JSON object`);
    }
    const record = value as Record<string, unknown>;
    const text =
      typeof record.text === 'string'
        ? tidy(record.text)
        : Object.entries(record)
            .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].trim() !== '')
            .map(([k, v]) => `${k}: ${oneLine(v)}`)
            .join('; ');
    const title = typeof record.title === 'string' ? oneLine(record.title) : '';
    if (text) blocks.push({ text, headingPath: title ? [title] : [], page: null, kind: 'paragraph' });
  });
  return { type: 'jsonl', pages: null, title: null, blocks };
}
