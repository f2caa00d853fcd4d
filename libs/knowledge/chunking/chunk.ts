/**
 * Splits a parsed document into chunks for embedding and BM25. Chunks are spans of the document's
 * full text (documentText), cut only between words, so a citation can point at exact characters.
 */
import type { Block, ParsedDocument } from '../parsing';
import { estimateTokens } from './tokens';
import type { ChunkingStrategy } from './validate';

export interface Chunk {
  ordinal: number;
  text: string;
  /** Headings over the block the chunk starts in. */
  headingPath: string[];
  pageFrom: number | null;
  pageTo: number | null;
  /** Offsets into documentText(doc): text === documentText(doc).slice(charStart, charEnd). */
  charStart: number;
  charEnd: number;
  tokenCount: number;
}

export interface ChunkOptions {
  /** The embedding model's context in tokens; `auto` chunks fit it. Defaults to 512. */
  windowTokens?: number;
  /** Counts tokens the way the embedding model will. Defaults to estimateTokens (about 4 characters a token). */
  countTokens?: (text: string) => number;
}

export const BLOCK_SEPARATOR = '\n\n';
/** `auto`'s target size: small chunks retrieve better than window-filling ones. */
export const AUTO_MAX_TOKENS = 512;
/** `auto`'s overlap as a share of the chunk size (within the usual 10–15 %). */
export const AUTO_OVERLAP = 0.125;

export function documentText(doc: ParsedDocument): string {
  return doc.blocks.map((b) => b.text).join(BLOCK_SEPARATOR);
}

interface Unit {
  start: number;
  end: number;
  tokens: number;
  block: number;
}

export function chunkDocument(
  doc: ParsedDocument,
  strategy: ChunkingStrategy,
  opts: ChunkOptions = {},
): Chunk[] {
  const count = opts.countTokens ?? estimateTokens;
  let max: number;
  let overlap: number;
  let smart: boolean;
  switch (strategy.type) {
    case 'auto': {
      const window =
        opts.windowTokens && opts.windowTokens > 0 ? Math.floor(opts.windowTokens) : AUTO_MAX_TOKENS;
      max = Math.max(16, Math.min(window, AUTO_MAX_TOKENS));
      overlap = Math.round(max * AUTO_OVERLAP);
      smart = true;
      break;
    }
    case 'static':
      max = strategy.static.max_chunk_size_tokens;
      overlap = strategy.static.chunk_overlap_tokens;
      smart = false;
      break;
  }

  const full = documentText(doc);
  const blocks = doc.blocks;
  const units = toUnits(blocks, full, max, count);
  const sections = smart ? sectionStarts(blocks, units) : [0];
  const chunks: Chunk[] = [];
  for (let s = 0; s < sections.length; s++) {
    const from = sections[s] as number;
    const to = sections[s + 1] ?? units.length;
    for (const [a, b] of pack(units, from, to, { full, blocks, max, overlap, smart, count })) {
      const first = units[a] as Unit;
      const last = units[b - 1] as Unit;
      const text = full.slice(first.start, last.end);
      let pageFrom: number | null = null;
      let pageTo: number | null = null;
      for (let i = first.block; i <= last.block; i++) {
        const p = blocks[i]?.page;
        if (p == null) continue;
        pageFrom = pageFrom === null ? p : Math.min(pageFrom, p);
        pageTo = pageTo === null ? p : Math.max(pageTo, p);
      }
      chunks.push({
        ordinal: chunks.length,
        text,
        headingPath: [...(blocks[first.block]?.headingPath ?? [])],
        pageFrom,
        pageTo,
        charStart: first.start,
        charEnd: last.end,
        tokenCount: count(text),
      });
    }
  }
  return chunks;
}

/** Whitespace-separated words with their offsets; a word longer than a whole chunk is cut in pieces. */
function toUnits(blocks: Block[], full: string, max: number, count: (t: string) => number): Unit[] {
  const units: Unit[] = [];
  let offset = 0;
  blocks.forEach((block, bi) => {
    for (const m of block.text.matchAll(/\S+/g)) {
      const start = offset + (m.index ?? 0);
      pushWord(units, full, start, start + m[0].length, bi, max, count);
    }
    offset += block.text.length + BLOCK_SEPARATOR.length;
  });
  return units;
}

function pushWord(
  units: Unit[],
  full: string,
  start: number,
  end: number,
  block: number,
  max: number,
  count: (t: string) => number,
): void {
  const tokens = count(full.slice(start, end));
  if (tokens <= max || end - start <= 1) {
    units.push({ start, end, tokens, block });
    return;
  }
  // Only for runs like base64 or long URLs: no word boundary exists, so cut at a character (never a surrogate pair).
  let cut = start + Math.max(1, Math.floor(((end - start) * max) / (2 * tokens)));
  if (/[\uD800-\uDBFF]/.test(full.charAt(cut - 1)) && cut + 1 < end) cut++;
  pushWord(units, full, start, cut, block, max, count);
  pushWord(units, full, cut, end, block, max, count);
}

/**
 * First unit of each top-level section (where headingPath[0] changes). A section of headings
 * alone joins the next one, so no chunk is just a title.
 */
function sectionStarts(blocks: Block[], units: Unit[]): number[] {
  const starts: number[] = [];
  let prevTop: string | undefined;
  let prevBlock = -1;
  let bodySinceStart = false;
  units.forEach((u, i) => {
    if (u.block === prevBlock) return;
    const block = blocks[u.block] as Block;
    const top = block.headingPath[0];
    const boundary =
      i === 0 || top !== prevTop || (block.kind === 'heading' && block.headingPath.length === 1);
    if (boundary && (i === 0 || bodySinceStart)) {
      starts.push(i);
      bodySinceStart = false;
    }
    if (block.kind !== 'heading') bodySinceStart = true;
    prevTop = top;
    prevBlock = u.block;
  });
  return starts.length > 0 ? starts : [0];
}

interface PackCtx {
  full: string;
  blocks: Block[];
  max: number;
  overlap: number;
  smart: boolean;
  count: (t: string) => number;
}

/** Greedy packing of units [from, to) into [a, b) ranges of at most max tokens, with overlap. */
function pack(units: Unit[], from: number, to: number, c: PackCtx): [number, number][] {
  const out: [number, number][] = [];
  const text = (a: number, b: number) => c.full.slice((units[a] as Unit).start, (units[b - 1] as Unit).end);
  let a = from;
  while (a < to) {
    let sum = 0;
    let b = a;
    while (b < to && sum + (units[b] as Unit).tokens <= c.max) sum += (units[b++] as Unit).tokens;
    if (b === a) b = a + 1;
    if (b < to && c.smart) b = betterBreak(units, a, b, c);
    // The unit sums estimate; the counter decides (a real tokenizer is not additive).
    if (c.count(text(a, b)) > c.max) {
      let lo = a + 1;
      let hi = b - 1;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (c.count(text(a, mid)) <= c.max) lo = mid;
        else hi = mid - 1;
      }
      b = lo;
    }
    out.push([a, b]);
    if (b >= to) break;
    if (c.smart && startsHeading(units, b, c.blocks)) {
      a = b; // a clean cut before a heading needs no overlap, and the chunk then starts under its heading
      continue;
    }
    let next = b;
    let t = 0;
    while (next > a + 1 && t + (units[next - 1] as Unit).tokens <= c.overlap)
      t += (units[--next] as Unit).tokens;
    a = Math.max(next, a + 1);
  }
  return out;
}

function startsHeading(units: Unit[], k: number, blocks: Block[]): boolean {
  const u = units[k] as Unit;
  return (units[k - 1] as Unit).block !== u.block && blocks[u.block]?.kind === 'heading';
}

/**
 * Moves the cut back to a natural boundary when one lies in the chunk's second half: the start
 * of a heading, else any block's end, else a sentence's end. A heading never ends a chunk.
 */
function betterBreak(units: Unit[], a: number, b: number, c: PackCtx): number {
  const half = c.max / 2;
  let sentence = -1;
  let blockEnd = -1;
  let tokens = 0;
  const prefix: number[] = [];
  for (let k = a; k < b; k++) prefix.push((tokens += (units[k] as Unit).tokens));
  for (let k = b; k > a + 1; k--) {
    if ((prefix[k - 1 - a] as number) < half) break;
    const prev = units[k - 1] as Unit;
    const next = units[k] as Unit;
    if (prev.block !== next.block) {
      const nextBlock = c.blocks[next.block] as Block;
      const prevBlock = c.blocks[prev.block] as Block;
      if (nextBlock.kind === 'heading' && prevBlock.kind !== 'heading') return k;
      if (blockEnd < 0 && prevBlock.kind !== 'heading') blockEnd = k;
    } else if (sentence < 0 && /[.!?。！？]["'”’)\]]*$/.test(c.full.slice(prev.start, prev.end))) {
      sentence = k;
    }
  }
  if (blockEnd > 0) return blockEnd;
  if (sentence > 0) return sentence;
  return b;
}
