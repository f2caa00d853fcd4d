/**
 * `corral kb create|list|add|rm|docs|search|reindex|eval`: knowledge bases through the server's
 * OpenAI vector-store API (/v1/files, /v1/vector_stores) and, for reindexing, the admin API
 * (/admin/v1/knowledge-bases). A base is named by its id (vs_...) or by its name when that is
 * unique. Progress goes to stderr, results to stdout; a failure ends as one "Error: ..." line.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { ApiError, ConnectError, resolveApiKey, type CorralClient } from '../client';
import { humanBytes, renderTable } from '../format';
import { Progress, type ProgressOutput } from '../progress';
import { query, type Out } from './admin-common';
import { parseQrels, parseQueries, score, type QualityRow } from './kb-eval';

const enc = encodeURIComponent;
/** OpenAI's cap on max_num_results (the admin retrieval test has the same one). */
export const MAX_RESULTS = 50;
/** Files per file batch (the server takes up to 2000; 500 keeps one request small). */
export const BATCH_SIZE = 500;
const UPLOAD_CONCURRENCY = 4;
const SEARCH_CONCURRENCY = 4;
const POLL_MS = 300;

type Attributes = Record<string, string | number | boolean>;

interface FileCounts {
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

export interface StoreView {
  id: string;
  name: string | null;
  usage_bytes: number;
  status: string;
  file_counts: FileCounts;
  corral?: {
    team_id: string;
    embedding_model: string | null;
    language: string;
    generation: number;
    building_generation: number | null;
  };
}

export interface StoreFileView {
  id: string;
  status: 'in_progress' | 'completed' | 'failed' | 'cancelled';
  usage_bytes: number;
  last_error: { code: string; message: string } | null;
  attributes: Attributes | null;
  corral?: { filename: string; chunk_count: number | null; stage: string | null; pages: number | null };
}

interface BatchView {
  id: string;
  status: 'in_progress' | 'completed' | 'cancelled' | 'failed';
  file_counts: FileCounts;
}

interface FileView {
  id: string;
  bytes: number;
  filename: string;
}

export interface HitView {
  file_id: string;
  filename: string;
  score: number;
  attributes: Attributes | null;
  content: { type: string; text: string }[];
  corral?: { page_from: number | null; page_to: number | null; heading_path: string[] | null };
}

interface ListOf<T> {
  data: T[];
  has_more: boolean;
  last_id: string | null;
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Errors that will fail every other request too: stop instead of reporting each file. */
const fatal = (e: unknown) =>
  e instanceof ConnectError || (e instanceof ApiError && (e.status === 401 || e.status === 403));

/** Every page of an OpenAI-style list (`after` = the last id of the previous page). */
async function allOf<T>(client: CorralClient, path: string, params: Record<string, string> = {}) {
  const items: T[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await client.json<ListOf<T>>('GET', path + query({ ...params, limit: '100', after }));
    items.push(...page.data);
    if (!page.has_more || !page.last_id) return items;
    after = page.last_id;
  }
}

/** A base by id (vs_...) or by name, when exactly one base has it. */
export async function resolveBase(client: CorralClient, ref: string): Promise<string> {
  if (ref.startsWith('vs_')) return ref;
  const matches = (await allOf<StoreView>(client, '/v1/vector_stores')).filter((s) => s.name === ref);
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) throw new Error(`knowledge base '${ref}' not found`);
  throw new Error(
    `${matches.length} knowledge bases are named '${ref}': give an id (${matches.map((m) => m.id).join(', ')})`,
  );
}

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 0)
    throw new Error(`invalid ${flag} '${value}': give a whole number`);
  return Number(value);
}

// --- create / list / rm / reindex ----------------------------------------------------------------

export interface BaseSettingsFlags {
  team?: string;
  embeddingModel?: string;
  chunkSize?: string;
  chunkOverlap?: string;
  language?: string;
}

/** The /v1/vector_stores create body for a name and the settings flags. */
export function createBody(name: string, flags: BaseSettingsFlags): Record<string, unknown> {
  const size = positiveInt('--chunk-size', flags.chunkSize);
  const overlap = positiveInt('--chunk-overlap', flags.chunkOverlap);
  if (overlap !== undefined && size === undefined) throw new Error('--chunk-overlap needs --chunk-size');
  const corral: Record<string, unknown> = {};
  if (flags.team) corral.team_id = flags.team;
  if (flags.embeddingModel) corral.embedding_model = flags.embeddingModel;
  if (flags.language) corral.language = flags.language;
  return {
    name,
    // OpenAI's default is 800 tokens with 400 overlapping: half, as here when no overlap is given.
    ...(size !== undefined
      ? {
          chunking_strategy: {
            type: 'static',
            static: { max_chunk_size_tokens: size, chunk_overlap_tokens: overlap ?? Math.floor(size / 2) },
          },
        }
      : {}),
    ...(Object.keys(corral).length ? { corral } : {}),
  };
}

export async function createKbCommand(
  client: CorralClient,
  name: string,
  flags: BaseSettingsFlags,
  out: Out,
): Promise<void> {
  const store = await client.json<StoreView>('POST', '/v1/vector_stores', createBody(name, flags));
  out.write(`${store.id}\n`);
}

export function renderBases(stores: StoreView[]): string {
  const rows = [['ID', 'NAME', 'TEAM', 'DOCUMENTS', 'USAGE', 'STATUS']];
  for (const s of stores) {
    const c = s.file_counts;
    rows.push([
      s.id,
      s.name ?? '',
      s.corral?.team_id ?? '',
      `${c.completed}/${c.total}${c.failed ? ` (${c.failed} failed)` : ''}`,
      humanBytes(s.usage_bytes),
      s.corral?.building_generation != null ? 'reindexing' : s.status,
    ]);
  }
  return renderTable(rows);
}

export async function listKbCommand(client: CorralClient, out: Out): Promise<void> {
  out.write(renderBases(await allOf<StoreView>(client, '/v1/vector_stores')));
}

export async function rmKbCommand(
  client: CorralClient,
  ref: string,
  fileId: string | undefined,
  flags: { files?: boolean },
  out: Out,
): Promise<void> {
  const id = await resolveBase(client, ref);
  if (fileId) {
    await client.json('DELETE', `/v1/vector_stores/${enc(id)}/files/${enc(fileId)}`);
    if (flags.files) await client.json('DELETE', `/v1/files/${enc(fileId)}`);
    out.write(`removed ${fileId} from ${id}\n`);
    return;
  }
  const docs = flags.files ? await allOf<StoreFileView>(client, `/v1/vector_stores/${enc(id)}/files`) : [];
  await client.json('DELETE', `/v1/vector_stores/${enc(id)}`);
  await pool(docs, UPLOAD_CONCURRENCY, async (d) => {
    await client.json('DELETE', `/v1/files/${enc(d.id)}`).catch((e: unknown) => {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    });
  });
  out.write(`deleted knowledge base ${id}${docs.length ? ` and its ${docs.length} files` : ''}\n`);
}

export async function reindexKbCommand(client: CorralClient, ref: string, out: Out): Promise<void> {
  const id = await resolveBase(client, ref);
  const base = await client.json<{ activeGeneration: number; buildingGeneration: number | null }>(
    'POST',
    `/admin/v1/knowledge-bases/${enc(id)}/reindex`,
    {},
  );
  out.write(
    base.buildingGeneration !== null
      ? `reindexing ${id}: building generation ${base.buildingGeneration}; searches use generation ${base.activeGeneration} until it is done\n`
      : `reindexed ${id} (generation ${base.activeGeneration})\n`,
  );
}

// --- docs ------------------------------------------------------------------------------------------

export function renderDocs(docs: StoreFileView[]): string {
  const rows = [['FILE ID', 'FILENAME', 'STATUS', 'CHUNKS', 'USAGE', 'ERROR']];
  for (const d of docs) {
    rows.push([
      d.id,
      d.corral?.filename ?? '',
      d.status === 'in_progress' && d.corral?.stage ? `${d.corral.stage}…` : d.status,
      d.corral?.chunk_count != null ? String(d.corral.chunk_count) : '',
      humanBytes(d.usage_bytes),
      d.last_error ? oneLine(d.last_error.message, 80) : '',
    ]);
  }
  return renderTable(rows);
}

export async function docsKbCommand(client: CorralClient, ref: string, out: Out): Promise<void> {
  const id = await resolveBase(client, ref);
  out.write(renderDocs(await allOf<StoreFileView>(client, `/v1/vector_stores/${enc(id)}/files`)));
}

// --- add -------------------------------------------------------------------------------------------

/** `--attr key=value`: numbers and true/false become numbers and booleans, as filters compare them. */
export function parseAttributes(pairs: readonly string[] | undefined): Attributes | undefined {
  if (!pairs?.length) return undefined;
  const out: Attributes = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`invalid --attr '${p}': give key=value`);
    const key = p.slice(0, eq);
    const v = p.slice(eq + 1);
    out[key] = v === 'true' ? true : v === 'false' ? false : /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  }
  return out;
}

export interface LocalFile {
  path: string;
  name: string;
  size: number;
}

/** Files named on the command line; a directory stands for every file under it (dotfiles left out). */
export function collectFiles(paths: readonly string[]): LocalFile[] {
  const out: LocalFile[] = [];
  const walk = (p: string, top: boolean) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`${p}: no such file or directory`);
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p).sort()) if (!e.startsWith('.')) walk(join(p, e), false);
    } else if (st.isFile()) {
      out.push({ path: resolve(p), name: basename(p), size: st.size });
    } else if (top) {
      throw new Error(`${p}: not a file or directory`);
    }
  };
  for (const p of paths) walk(p, true);
  return out;
}

/** One file as a streamed multipart body, so the progress bar follows the bytes as they leave. */
export async function uploadFile(
  client: CorralClient,
  apiKey: string | undefined,
  name: string,
  source: { path: string } | { bytes: Buffer },
  size: number,
  onBytes: (n: number) => void,
): Promise<FileView> {
  const boundary = `----corral${randomBytes(12).toString('hex')}`;
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${ascii}"` +
      (ascii !== name ? `; filename*=UTF-8''${enc(name)}` : '') +
      `\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  async function* body(): AsyncGenerator<Uint8Array> {
    yield head;
    if ('bytes' in source) {
      for (let i = 0; i < source.bytes.length; i += 64 * 1024) {
        const chunk = source.bytes.subarray(i, i + 64 * 1024);
        onBytes(chunk.length);
        yield chunk;
      }
    } else {
      for await (const chunk of createReadStream(source.path, {
        highWaterMark: 64 * 1024,
      }) as AsyncIterable<Buffer>) {
        onBytes(chunk.length);
        yield chunk;
      }
    }
    yield tail;
  }
  const headers: Record<string, string> = {
    'content-type': `multipart/form-data; boundary=${boundary}`,
    'content-length': String(head.length + size + tail.length),
  };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  const res = await client.send('/v1/files', {
    method: 'POST',
    headers,
    body: ReadableStream.from(body()) as unknown as RequestInit['body'],
    duplex: 'half',
  });
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim() || `HTTP ${res.status}`;
    try {
      const e = (JSON.parse(text) as { error?: unknown }).error;
      if (typeof e === 'string') message = e;
      else if (e && typeof e === 'object' && 'message' in e) message = String(e.message);
    } catch {
      // not JSON: the raw text
    }
    throw new ApiError(message, res.status);
  }
  return JSON.parse(text) as FileView;
}

export interface UploadItem {
  name: string;
  size: number;
  source: { path: string } | { bytes: Buffer };
  attributes?: Attributes;
}

export interface Failure {
  name: string;
  fileId?: string;
  reason: string;
}

/** Uploads every item with one bytes bar; items that the server refuses come back as failures. */
async function uploadAll(
  client: CorralClient,
  apiKey: string | undefined,
  items: readonly UploadItem[],
  progress: Progress,
): Promise<{ uploaded: (UploadItem & { fileId: string })[]; failures: Failure[] }> {
  const total = items.reduce((s, f) => s + f.size, 0);
  const label = `uploading ${items.length} file${items.length === 1 ? '' : 's'}`;
  let sent = 0;
  progress.bar('upload', label, total, 0);
  const uploaded: (UploadItem & { fileId: string })[] = [];
  const failures: Failure[] = [];
  const ids: (string | undefined)[] = [];
  await pool(items, UPLOAD_CONCURRENCY, async (item, i) => {
    let counted = 0;
    try {
      const f = await uploadFile(client, apiKey, item.name, item.source, item.size, (n) => {
        counted += n;
        sent += n;
        progress.bar('upload', label, total, sent);
      });
      ids[i] = f.id;
    } catch (e) {
      if (fatal(e)) throw e;
      // What a refused file had counted still moves the bar to its end.
      sent += item.size - counted;
      progress.bar('upload', label, total, sent);
      failures.push({ name: item.name, reason: e instanceof Error ? e.message : String(e) });
    }
  });
  items.forEach((item, i) => {
    if (ids[i]) uploaded.push({ ...item, fileId: ids[i] });
  });
  progress.bar('upload', label, total, total);
  return { uploaded, failures };
}

/**
 * Adds uploaded files to a base in file batches and follows them until none is in progress;
 * returns the files that failed there, with the server's reason.
 */
async function ingest(
  client: CorralClient,
  kbId: string,
  files: readonly { fileId: string; name: string; attributes?: Attributes }[],
  attributes: Attributes | undefined,
  progress: Progress,
): Promise<{ failures: Failure[]; completed: number }> {
  const batches: BatchView[] = [];
  for (let i = 0; i < files.length; i += BATCH_SIZE) {
    const group = files.slice(i, i + BATCH_SIZE);
    const body = group.some((f) => f.attributes)
      ? { files: group.map((f) => ({ file_id: f.fileId, attributes: { ...attributes, ...f.attributes } })) }
      : { file_ids: group.map((f) => f.fileId), ...(attributes ? { attributes } : {}) };
    try {
      batches.push(await client.json<BatchView>('POST', `/v1/vector_stores/${enc(kbId)}/file_batches`, body));
    } catch (e) {
      // An uploaded file belongs to the key's team; a base of another team cannot take it.
      if (e instanceof ApiError && e.status === 404 && /^file /.test(e.message))
        throw new ApiError(
          `${e.message}: files uploaded with this key belong to its team; add files to another team's base with a key of that team`,
          e.status,
        );
      throw e;
    }
  }
  const line = () => {
    const sum = (k: keyof FileCounts) => batches.reduce((s, b) => s + b.file_counts[k], 0);
    const done = sum('completed') + sum('failed') + sum('cancelled');
    const failed = sum('failed') + sum('cancelled');
    return `indexing ${done}/${sum('total')} files${failed ? ` (${failed} failed)` : ''}`;
  };
  progress.status(line(), 'ingest');
  while (batches.some((b) => b.status === 'in_progress')) {
    await sleep(POLL_MS);
    for (const [i, b] of batches.entries()) {
      if (b.status !== 'in_progress') continue;
      batches[i] = await client.json<BatchView>(
        'GET',
        `/v1/vector_stores/${enc(kbId)}/file_batches/${enc(b.id)}`,
      );
    }
    progress.update('ingest', line());
  }
  const names = new Map(files.map((f) => [f.fileId, f.name]));
  const failures: Failure[] = [];
  let completed = 0;
  for (const b of batches) {
    completed += b.file_counts.completed;
    if (b.file_counts.failed + b.file_counts.cancelled === 0) continue;
    const path = `/v1/vector_stores/${enc(kbId)}/file_batches/${enc(b.id)}/files`;
    for (const filter of ['failed', 'cancelled'])
      for (const d of await allOf<StoreFileView>(client, path, { filter }))
        failures.push({
          name: names.get(d.id) ?? d.corral?.filename ?? d.id,
          fileId: d.id,
          reason: d.last_error?.message ?? d.status,
        });
  }
  return { failures, completed };
}

export function renderFailures(failures: readonly Failure[]): string {
  return renderTable([
    ['FAILED', 'FILE ID', 'REASON'],
    ...failures.map((f) => [f.name, f.fileId ?? '-', oneLine(f.reason, 120)]),
  ]);
}

export async function addKbCommand(
  client: CorralClient,
  ref: string,
  paths: string[],
  flags: { attr?: string[] },
  out: Out,
  err: ProgressOutput = process.stderr,
  apiKey: string | undefined = resolveApiKey(),
): Promise<void> {
  const attributes = parseAttributes(flags.attr);
  const files = collectFiles(paths);
  if (files.length === 0) throw new Error(`no files found in ${paths.join(', ')}`);
  const id = await resolveBase(client, ref);
  const progress = new Progress(err);
  let result;
  try {
    const items = files.map((f) => ({ name: f.name, size: f.size, source: { path: f.path } }));
    const up = await uploadAll(client, apiKey, items, progress);
    const ing = up.uploaded.length
      ? await ingest(client, id, up.uploaded, attributes, progress)
      : { failures: [], completed: 0 };
    result = { failures: [...up.failures, ...ing.failures], completed: ing.completed };
  } finally {
    progress.stop();
  }
  const { failures, completed } = result;
  out.write(`added ${completed} of ${files.length} file${files.length === 1 ? '' : 's'} to ${id}\n`);
  if (failures.length) {
    out.write(renderFailures(failures));
    throw new Error(`${failures.length} of ${files.length} files could not be added`);
  }
}

// --- search ----------------------------------------------------------------------------------------

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

/** Where in its document a hit is: its page(s) and heading path, from the `corral` extension. */
export function hitPlace(h: HitView): string {
  const parts: string[] = [];
  const c = h.corral;
  if (c?.page_from != null)
    parts.push(
      c.page_to != null && c.page_to !== c.page_from ? `p. ${c.page_from}-${c.page_to}` : `p. ${c.page_from}`,
    );
  if (c?.heading_path?.length) parts.push(c.heading_path.join(' > '));
  return oneLine(parts.join(' · '), 50);
}

export function renderHits(hits: readonly HitView[], snippet = 80): string {
  const rows = [['#', 'SCORE', 'FILE', 'WHERE', 'TEXT']];
  hits.forEach((h, i) =>
    rows.push([
      String(i + 1),
      h.score.toFixed(4),
      h.filename,
      hitPlace(h),
      oneLine(h.content.map((c) => c.text).join(' '), snippet),
    ]),
  );
  return renderTable(rows, '  ');
}

export async function searchKbCommand(
  client: CorralClient,
  ref: string,
  words: string[],
  flags: { k?: string; json?: boolean },
  out: Out,
): Promise<void> {
  const k = positiveInt('-k', flags.k);
  if (k !== undefined && (k < 1 || k > MAX_RESULTS)) throw new Error(`-k must be 1 to ${MAX_RESULTS}`);
  const text = words.join(' ').trim();
  if (!text) throw new Error('give a query');
  const id = await resolveBase(client, ref);
  const res = await client.json<{ data: HitView[] }>('POST', `/v1/vector_stores/${enc(id)}/search`, {
    query: text,
    ...(k !== undefined ? { max_num_results: k } : {}),
  });
  if (flags.json) out.write(JSON.stringify(res.data, null, 2) + '\n');
  else if (res.data.length === 0) out.write('no results\n');
  else out.write(renderHits(res.data));
}

// --- eval ------------------------------------------------------------------------------------------

/** A hit's BEIR document id: the `beir_id` attribute, else the filename without its extension. */
export function beirId(h: Pick<HitView, 'attributes' | 'filename'>): string {
  const a = h.attributes?.beir_id;
  if (a !== undefined && a !== null && a !== '') return String(a);
  const ext = extname(h.filename);
  return ext ? h.filename.slice(0, -ext.length) : h.filename;
}

export function renderQuality(name: string, q: QualityRow): string {
  const f = (x: number) => x.toFixed(4);
  return renderTable([
    ['KNOWLEDGE BASE', 'QUERIES', 'NDCG@10', 'RECALL@10', 'RECALL@100', 'MRR@10'],
    [name, String(q.queries), f(q.ndcg10), f(q.recall10), f(q.recall100), f(q.mrr10)],
  ]);
}

/** corpus.jsonl: `{"_id", "title"?, "text"}` per line, as a text file `<_id>.txt` of `title\n\ntext`. */
export function corpusItems(text: string): UploadItem[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      let o: { _id?: unknown; title?: unknown; text?: unknown };
      try {
        o = JSON.parse(l) as typeof o;
      } catch {
        throw new Error(`corpus line ${i + 1} is not JSON`);
      }
      if (o._id === undefined) throw new Error(`corpus line ${i + 1} has no "_id"`);
      const id = String(o._id);
      const title = o.title ? String(o.title) : '';
      const bytes = Buffer.from(title ? `${title}\n\n${String(o.text ?? '')}` : String(o.text ?? ''));
      return { name: `${id}.txt`, size: bytes.length, source: { bytes }, attributes: { beir_id: id } };
    });
}

export interface EvalFlags extends BaseSettingsFlags {
  queries: string;
  qrels: string;
  corpus?: string;
  k?: string;
  keep?: boolean;
}

async function runQueries(
  client: CorralClient,
  kbId: string,
  queries: readonly { id: string; text: string }[],
  k: number,
  progress: Progress,
): Promise<Map<string, string[]>> {
  const ranked = new Map<string, string[]>();
  let done = 0;
  const line = () => `searching ${done}/${queries.length} queries`;
  progress.status(line(), 'search');
  await pool(queries, SEARCH_CONCURRENCY, async (q) => {
    const res = await client.json<{ data: HitView[] }>('POST', `/v1/vector_stores/${enc(kbId)}/search`, {
      query: q.text.slice(0, 8192),
      max_num_results: Math.min(k, MAX_RESULTS),
    });
    ranked.set(q.id, res.data.map(beirId));
    done++;
    progress.update('search', line());
  });
  return ranked;
}

export async function evalKbCommand(
  client: CorralClient,
  ref: string | undefined,
  flags: EvalFlags,
  out: Out,
  err: ProgressOutput = process.stderr,
  apiKey: string | undefined = resolveApiKey(),
): Promise<void> {
  const k = positiveInt('-k', flags.k) ?? 100;
  if (k < 1) throw new Error('-k must be at least 1');
  const qrels = parseQrels(readFileSync(flags.qrels, 'utf8'));
  const queries = parseQueries(readFileSync(flags.queries, 'utf8')).filter((q) => qrels.has(q.id));
  if (queries.length === 0) throw new Error(`no query in ${flags.queries} has a judgement in ${flags.qrels}`);
  if (!ref && !flags.corpus) throw new Error('give a knowledge base, or --corpus to build a temporary one');
  if (ref && flags.corpus) throw new Error('give a knowledge base or --corpus, not both');
  if (k > MAX_RESULTS)
    err.write(
      `# the search API returns at most ${MAX_RESULTS} results: recall@100 counts the top ${MAX_RESULTS}\n`,
    );

  const progress = new Progress(err);
  let kbId: string | undefined;
  let name = ref ?? '';
  const uploaded: string[] = [];
  let quality: QualityRow;
  try {
    if (ref) {
      kbId = await resolveBase(client, ref);
    } else {
      const items = corpusItems(readFileSync(flags.corpus!, 'utf8'));
      if (items.length === 0) throw new Error(`${flags.corpus} has no documents`);
      name = `eval-${basename(flags.corpus!, extname(flags.corpus!))}-${Date.now()}`;
      kbId = (await client.json<StoreView>('POST', '/v1/vector_stores', createBody(name, flags))).id;
      const up = await uploadAll(client, apiKey, items, progress);
      uploaded.push(...up.uploaded.map((u) => u.fileId));
      const ing = await ingest(client, kbId, up.uploaded, undefined, progress);
      const failed = up.failures.length + ing.failures.length;
      if (failed) {
        progress.stop();
        err.write(
          `# ${failed} of ${items.length} documents could not be indexed (first: ${[...up.failures, ...ing.failures][0]!.name})\n`,
        );
      }
    }
    quality = score(await runQueries(client, kbId, queries, k, progress), qrels);
    progress.stop();
  } finally {
    progress.stop();
    if (flags.corpus && kbId) {
      if (flags.keep) err.write(`# kept knowledge base ${kbId} (${name})\n`);
      else {
        await client.json('DELETE', `/v1/vector_stores/${enc(kbId)}`).catch(() => undefined);
        await pool(uploaded, UPLOAD_CONCURRENCY, async (f) => {
          await client.json('DELETE', `/v1/files/${enc(f)}`).catch(() => undefined);
        });
      }
    }
  }
  out.write(renderQuality(ref ? kbId : name, quality));
}
