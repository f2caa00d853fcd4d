/**
 * Grounded chat against the real server: a document uploaded into a vector store through the
 * `openai` SDK, then chats with the `knowledge` extension field through the openai SDK (plain and
 * streamed) and the `ollama` npm client. The scripted model always answers `See [1] and [7].`:
 * [1] names the retrieved chunk and comes back as a citation of the uploaded file, [7] names
 * nothing retrieved and is dropped and counted as invented. Then the boundaries: another team's key
 * gets 404 for the base, a key without kb:read gets 403, both before anything is generated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError, toFile } from 'openai';
import { Ollama } from 'ollama';
import { buildScriptedModel } from '@corral/registry';
import { importModel, startCorral, type CorralProcess } from '@corral/testing';

jest.setTimeout(240_000);

const ANSWER = 'See [1] and [7].';

let corral: CorralProcess;
let modelDir: string;
let storeId: string;
let fileId: string;
let keyA: string;
let keyB: string;
let keyNoKb: string;

interface Citation {
  index: number;
  chunk_id: string;
  document_id: string;
  filename: string;
  page: number | null;
  score: number;
}
interface Grounded {
  citations: Citation[];
  corral: {
    knowledge: { sources: { index: number; filename: string; text: string }[]; invented_citations: number };
  };
}

const admin = async (path: string, body: unknown) => {
  const r = await fetch(corral.url + path, {
    method: 'POST',
    headers: { ...corral.authHeaders, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};

async function newKey(teamId: string, scopes: string[]): Promise<string> {
  const r = await admin('/admin/v1/keys', { team_id: teamId, name: `chat-${scopes.join('-')}`, scopes });
  if (r.status !== 201) throw new Error(`key create failed: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.key as string;
}

const sdk = (key: string) => new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: key, maxRetries: 0 });
const question: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'user', content: 'When must receipts for the purple giraffe fund be filed?' },
];
/** The request with Corral's extension field (the SDK sends unknown body fields as they are). */
const grounded = (stream: boolean, bases: string[] = [storeId]) =>
  ({ model: 'cited', messages: question, stream, knowledge: { bases, top_k: 3 } }) as never;

async function apiError(p: Promise<unknown>): Promise<APIError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof APIError) return e;
    throw e;
  }
  throw new Error('expected an APIError');
}

function expectCited(g: Grounded): void {
  expect(g.citations).toEqual([
    {
      index: 1,
      chunk_id: expect.any(String),
      document_id: fileId,
      filename: 'expenses.md',
      page: null,
      score: expect.any(Number),
    },
  ]);
  expect(g.corral.knowledge.invented_citations).toBe(1);
  expect(g.corral.knowledge.sources[0]).toMatchObject({ index: 1, filename: 'expenses.md' });
  expect(g.corral.knowledge.sources[0]?.text).toContain('purple giraffe');
}

beforeAll(async () => {
  modelDir = mkdtempSync(join(tmpdir(), 'corral-cited-'));
  const model = join(modelDir, 'cited.gguf');
  await buildScriptedModel(model, { script: ['See', ' [1]', ' and', ' [7].'], name: 'corral-cited' });
  corral = await startCorral();
  await importModel(corral.url, 'cited', model);
  const teamA = (await admin('/admin/v1/teams', { name: 'chat-alpha' })).json.id as string;
  const teamB = (await admin('/admin/v1/teams', { name: 'chat-beta' })).json.id as string;
  keyA = await newKey(teamA, ['inference', 'kb:read', 'kb:write']);
  keyB = await newKey(teamB, ['inference', 'kb:read']);
  keyNoKb = await newKey(teamA, ['inference']);

  const openai = sdk(keyA);
  storeId = (await openai.vectorStores.create({ name: 'handbook' })).id;
  const file = await openai.vectorStores.files.uploadAndPoll(
    storeId,
    await toFile(
      Buffer.from('# Expenses\n\nReceipts for the purple giraffe fund must be filed within 30 days.\n'),
      'expenses.md',
    ),
    { pollIntervalMs: 200 },
  );
  expect(file.status).toBe('completed');
  fileId = file.id;
});

afterAll(async () => {
  await corral?.stop();
  if (modelDir) rmSync(modelDir, { recursive: true, force: true });
});

describe('grounded chat through the openai SDK', () => {
  it('answers with citations of the retrieved chunk and drops the invented one', async () => {
    const r = (await sdk(keyA).chat.completions.create(grounded(false))) as OpenAI.ChatCompletion & Grounded;
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]?.message.content).toBe(ANSWER);
    expectCited(r);
  });

  it('streams the citations on a last chunk with no choices', async () => {
    const stream = (await sdk(keyA).chat.completions.create(grounded(true))) as unknown as AsyncIterable<
      OpenAI.ChatCompletionChunk & Partial<Grounded>
    >;
    const chunks: (OpenAI.ChatCompletionChunk & Partial<Grounded>)[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(ANSWER);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.object).toBe('chat.completion.chunk');
    expectCited(last as Grounded);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.slice(0, -1).every((c) => c.citations === undefined)).toBe(true);
  });

  it('puts the citations on the usage chunk when usage is asked for', async () => {
    const body = { ...(grounded(true) as object), stream_options: { include_usage: true } } as never;
    const stream = (await sdk(keyA).chat.completions.create(body)) as unknown as AsyncIterable<
      OpenAI.ChatCompletionChunk & Partial<Grounded>
    >;
    const chunks: (OpenAI.ChatCompletionChunk & Partial<Grounded>)[] = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBeGreaterThan(0);
    expectCited(last as Grounded);
  });

  it('still answers when nothing is retrieved, with no citations', async () => {
    const body = {
      model: 'cited',
      messages: [{ role: 'user', content: 'xylophone quasar zeppelin' }],
      knowledge: [storeId],
    } as never;
    const r = (await sdk(keyA).chat.completions.create(body)) as OpenAI.ChatCompletion & Grounded;
    expect(r.choices[0]?.message.content).toBe(ANSWER);
    expect(r.citations).toEqual([]);
    expect(r.corral.knowledge).toEqual({ sources: [], invented_citations: 2 });
  });

  it('accepts a bare array of base ids', async () => {
    const body = { model: 'cited', messages: question, knowledge: [storeId] } as never;
    const r = (await sdk(keyA).chat.completions.create(body)) as OpenAI.ChatCompletion & Grounded;
    expectCited(r);
  });

  it("gives another team's key a 404 for the base, in OpenAI's error shape", async () => {
    const e = await apiError(sdk(keyB).chat.completions.create(grounded(false)));
    expect(e.status).toBe(404);
    expect(e.error).toMatchObject({ message: expect.any(String) });
  });

  it('refuses a key without kb:read with 403', async () => {
    const e = await apiError(sdk(keyNoKb).chat.completions.create(grounded(false)));
    expect(e.status).toBe(403);
    expect(e.message).toMatch(/kb:read/);
  });

  it('refuses a bad knowledge field with 400 naming it', async () => {
    const body = { model: 'cited', messages: question, knowledge: { bases: [] } } as never;
    const e = await apiError(sdk(keyA).chat.completions.create(body));
    expect(e.status).toBe(400);
    expect(e.param).toMatch(/^knowledge/);
  });
});

describe('grounded chat through the ollama client', () => {
  const ollama = (key: string) =>
    new Ollama({ host: corral.url, headers: { Authorization: `Bearer ${key}` } });
  const request = (bases: string[] = [storeId]) => ({
    model: 'cited',
    messages: [{ role: 'user', content: 'When must receipts for the purple giraffe fund be filed?' }],
    knowledge: { bases },
  });

  it('puts the citations on the final object of a non-streamed reply', async () => {
    const r = (await ollama(keyA).chat({ ...request(), stream: false })) as unknown as {
      message: { content: string };
      done: boolean;
    } & Grounded;
    expect(r.done).toBe(true);
    expect(r.message.content).toBe(ANSWER);
    expectCited(r);
  });

  it('puts the citations on the done object of a stream', async () => {
    const parts: (Record<string, unknown> & { message: { content: string }; done: boolean })[] = [];
    for await (const p of await ollama(keyA).chat({ ...request(), stream: true }))
      parts.push(p as unknown as (typeof parts)[number]);
    expect(parts.map((p) => p.message.content).join('')).toBe(ANSWER);
    const last = parts.at(-1)!;
    expect(last.done).toBe(true);
    expectCited(last as unknown as Grounded);
    expect(parts.slice(0, -1).every((p) => p.citations === undefined)).toBe(true);
  });

  it("gives another team's key a 404 and a key without kb:read a 403", async () => {
    const other = await fetch(`${corral.url}/api/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${keyB}` },
      body: JSON.stringify({ ...request(), stream: false }),
    });
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: expect.any(String) });
    const noKb = await fetch(`${corral.url}/api/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${keyNoKb}` },
      body: JSON.stringify({ ...request(), stream: false }),
    });
    expect(noKb.status).toBe(403);
  });
});
