/** The shape every parser produces, and the one error type every parser throws. */

export type DocType = 'pdf' | 'docx' | 'html' | 'markdown' | 'text' | 'csv' | 'xlsx' | 'jsonl';

/**
 * One unit of a document's text. `headingPath` is the chain of headings the block stands under
 * (a heading block's path ends with its own text); `page` is 1-based, null where the format has no pages.
 */
export interface Block {
  text: string;
  headingPath: string[];
  page: number | null;
  kind: 'heading' | 'paragraph' | 'row' | 'list' | 'code' | 'table';
}

export interface ParsedDocument {
  type: DocType;
  /** Page count for PDFs; null for formats without pages. */
  pages: number | null;
  title: string | null;
  blocks: Block[];
}

export interface ParseLimits {
  /** Largest upload accepted. Defaults to 50 MiB. */
  maxBytes: number;
  /** Largest total inflated size of a DOCX/XLSX's zip entries. Defaults to 256 MiB. */
  maxUnzippedBytes: number;
  /** Most PDF pages read. Defaults to 2000. */
  maxPages: number;
  /** Most entries in a DOCX/XLSX zip. Defaults to 10000. */
  maxZipEntries: number;
}

export const DEFAULT_PARSE_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxBytes: 50 * 1024 * 1024,
  maxUnzippedBytes: 256 * 1024 * 1024,
  maxPages: 2000,
  maxZipEntries: 10_000,
});

export type ParseFailure =
  'empty' | 'too_large' | 'unsupported_type' | 'corrupt' | 'no_text' | 'zip_bomb' | 'type_mismatch';

export const PARSE_FAILURES: readonly ParseFailure[] = [
  'empty',
  'too_large',
  'unsupported_type',
  'corrupt',
  'no_text',
  'zip_bomb',
  'type_mismatch',
];

/** A document Corral cannot index, with a message meant for the person who uploaded it. */
export class ParseError extends Error {
  constructor(
    readonly failure: ParseFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ParseError';
  }
}

export function resolveLimits(limits: Partial<ParseLimits> | undefined): ParseLimits {
  const out = { ...DEFAULT_PARSE_LIMITS };
  for (const key of Object.keys(out) as (keyof ParseLimits)[]) {
    const v = limits?.[key];
    if (v !== undefined) {
      if (!Number.isFinite(v) || v < 0)
        throw new RangeError(`parse limit ${key} must be a non-negative number`);
      out[key] = v;
    }
  }
  return out;
}
