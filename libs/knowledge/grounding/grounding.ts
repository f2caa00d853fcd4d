/**
 * Grounded chat: the `knowledge` extension field of /v1/chat/completions and /api/chat. The last user
 * message is searched in the named bases; the hits become a numbered system message that tells the
 * model to answer only from them and cite them as `[n]`; the answer's markers are then read back as
 * citations of the retrieved chunks, and markers the model made up (no such source) are dropped and
 * counted.
 */
import { z } from 'zod';
import type { KbActor, KnowledgeApi } from '../knowledge.service';
import type { SearchHit } from '../knowledge.types';
import { FilterSchema, type Filter } from '../retrieval/filters';

export const MAX_GROUNDING_BASES = 8;
export const MAX_GROUNDING_TOP_K = 50;
/** The search service's own bound on a query; a longer last message is searched by its start. */
const MAX_QUERY_CHARS = 8192;

const BaseIds = z
  .array(z.string().min(1).max(128))
  .min(1, 'must name at least one knowledge base')
  .max(MAX_GROUNDING_BASES, `must name at most ${MAX_GROUNDING_BASES} knowledge bases`);

const GroundingObject = z
  .object({
    bases: BaseIds,
    top_k: z.number().int().min(1).max(MAX_GROUNDING_TOP_K).optional(),
    filters: FilterSchema.optional(),
  })
  .strict();

/** `knowledge: {bases, top_k?, filters?}`, or a bare array of base ids as shorthand. */
export const groundingSchema = z.preprocess((v) => (Array.isArray(v) ? { bases: v } : v), GroundingObject);
export type GroundingSpec = z.output<typeof GroundingObject>;

/** A request's grounding: what to search, on whose behalf (`actorOf(principal)`). */
export interface GroundingRequest {
  spec: GroundingSpec;
  actor: KbActor;
}

/** A retrieved chunk as the model saw it: `[index]` in the system message. */
export interface GroundingSource {
  /** 1-based: the `[n]` the model cites. */
  index: number;
  chunk_id: string;
  document_id: string;
  knowledge_base_id: string;
  filename: string;
  /** First page of the chunk (PDFs and other paged formats), else null. */
  page: number | null;
  page_to: number | null;
  heading_path: string[];
  score: number;
  text: string;
}

export interface Citation {
  index: number;
  chunk_id: string;
  document_id: string;
  filename: string;
  page: number | null;
  score: number;
}

export interface Citations {
  /** Each cited source once, in the order first cited. */
  citations: Citation[];
  /** How many markers named no retrieved source (dropped). */
  invented: number;
}

export interface GroundedMessage {
  role: 'system';
  content: string;
}

/** Messages as both dialects hand them to the prompt builder. */
export interface PlainMessage {
  role: string;
  content: string;
}

function sourceOf(hit: SearchHit, i: number): GroundingSource {
  return {
    index: i + 1,
    chunk_id: hit.id,
    document_id: hit.documentId,
    knowledge_base_id: hit.kbId,
    filename: hit.filename,
    page: hit.pageFrom ?? null,
    page_to: hit.pageTo ?? null,
    heading_path: [...(hit.headingPath ?? [])],
    score: hit.score,
    text: hit.text,
  };
}

function label(s: GroundingSource): string {
  const pages =
    s.page === null
      ? ''
      : s.page_to !== null && s.page_to !== s.page
        ? `, pages ${s.page}-${s.page_to}`
        : `, page ${s.page}`;
  const heading = s.heading_path.length ? ` (${s.heading_path.join(' > ')})` : '';
  return `[${s.index}] ${s.filename}${pages}${heading}`;
}

/** The system message the model answers from. */
export function groundingPrompt(sources: readonly GroundingSource[]): string {
  if (sources.length === 0) {
    return [
      'You answer questions from the knowledge base only.',
      'No sources were found in the knowledge base for this question.',
      'Say that you do not know, because the knowledge base has no information about it. Do not make up an answer or cite sources.',
    ].join('\n');
  }
  const blocks = sources.map((s) => `${label(s)}\n${s.text.trim()}`);
  return [
    'Answer the question using only the numbered sources below.',
    'Cite the sources you use with their numbers in square brackets, like [1] or [2, 3].',
    'If the sources do not contain the answer, say that you do not know. Do not use other knowledge and do not cite sources that are not listed.',
    '',
    'Sources:',
    '',
    blocks.join('\n\n'),
  ].join('\n');
}

/** The text the search runs on: the last user message. */
export function groundingQuery(messages: readonly PlainMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'user') return m.content.trim().slice(0, MAX_QUERY_CHARS);
  }
  return '';
}

/**
 * Retrieves for the last user message and puts the numbered sources in front of `messages` as a
 * system message. A base the actor may not read is not found (404) before anything is generated.
 */
export async function ground<M extends PlainMessage>(
  api: KnowledgeApi,
  actor: KbActor,
  messages: readonly M[],
  spec: GroundingSpec,
): Promise<{ messages: (M | GroundedMessage)[]; sources: GroundingSource[] }> {
  const query = groundingQuery(messages);
  let hits: SearchHit[] = [];
  if (query) {
    const filter: Filter | undefined = spec.filters;
    const result = await api.search(actor, spec.bases, {
      query,
      ...(spec.top_k !== undefined ? { topK: spec.top_k } : {}),
      ...(filter ? { filter } : {}),
    });
    hits = result.hits;
  } else {
    // Nothing to search for, but the bases must still exist for this caller.
    await Promise.all([...new Set(spec.bases)].map((id) => api.getBase(actor, id)));
  }
  const sources = hits.map(sourceOf);
  const system: GroundedMessage = { role: 'system', content: groundingPrompt(sources) };
  return { messages: [system, ...messages], sources };
}

/** `[1]`, `[2, 3]`, `[4,5]`: one marker's numbers. */
const MARKER = /\[(\s*\d{1,4}(?:\s*,\s*\d{1,4})*\s*)\]/g;

/**
 * The `[n]` markers of an answer → citations of the retrieved sources. A number outside the
 * retrieved set is an invented citation: dropped, and counted in `invented`.
 */
export function citationsFrom(text: string, sources: readonly GroundingSource[]): Citations {
  const byIndex = new Map(sources.map((s) => [s.index, s]));
  const seen = new Set<number>();
  const citations: Citation[] = [];
  let invented = 0;
  for (const m of text.matchAll(MARKER)) {
    for (const part of m[1]!.split(',')) {
      const n = Number(part.trim());
      const s = byIndex.get(n);
      if (!s) {
        invented++;
        continue;
      }
      if (seen.has(n)) continue;
      seen.add(n);
      citations.push({
        index: s.index,
        chunk_id: s.chunk_id,
        document_id: s.document_id,
        filename: s.filename,
        page: s.page,
        score: s.score,
      });
    }
  }
  return { citations, invented };
}

/** What a reply carries besides `citations`: `corral: {knowledge: ...}`. */
export interface KnowledgeReport {
  sources: GroundingSource[];
  invented_citations: number;
}

/** The reply's extension fields for an answer grounded on `sources`. */
export function groundedFields(
  text: string,
  sources: readonly GroundingSource[],
): { citations: Citation[]; corral: { knowledge: KnowledgeReport } } {
  const { citations, invented } = citationsFrom(text, sources);
  return { citations, corral: { knowledge: { sources: [...sources], invented_citations: invented } } };
}
