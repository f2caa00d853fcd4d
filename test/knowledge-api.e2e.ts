/**
 * Knowledge bases through the `openai` SDK against the real server, the way an application uses
 * OpenAI's vector stores: upload files, create a store, add files and batches (upload-and-poll),
 * search with and without attribute filters. Then the boundaries a user would hit: another team's
 * key sees none of it (404, missing from its lists), a read-only key cannot create (403), and bad
 * input comes back as a 400/404 in OpenAI's error shape naming the field.
 */
import OpenAI, { APIError, toFile } from 'openai';
import { startCorral, type CorralProcess } from '@corral/testing';

jest.setTimeout(240_000);

let corral: CorralProcess;
let teamA: string;
let teamB: string;
let openaiA: OpenAI;
let openaiB: OpenAI;
let openaiRead: OpenAI;
let keyA: string;
let keyB: string;

const admin = async (path: string, body?: unknown) => {
  const r = await fetch(corral.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...corral.authHeaders, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json().catch(() => undefined)) as Record<string, unknown> };
};

const sdk = (key: string) => new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: key, maxRetries: 0 });

async function newKey(teamId: string, scopes: string[]): Promise<string> {
  const r = await admin('/admin/v1/keys', { team_id: teamId, name: `kb-${scopes.join('-')}`, scopes });
  if (r.status !== 201) throw new Error(`key create failed: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.key as string;
}

async function apiError(p: Promise<unknown>): Promise<APIError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof APIError) return e;
    throw e;
  }
  throw new Error('expected an APIError');
}

const md = (title: string, body: string) => Buffer.from(`# ${title}\n\n${body}\n`);

beforeAll(async () => {
  corral = await startCorral();
  teamA = (await admin('/admin/v1/teams', { name: 'kb-alpha' })).json.id as string;
  teamB = (await admin('/admin/v1/teams', { name: 'kb-beta' })).json.id as string;
  keyA = await newKey(teamA, ['kb:read', 'kb:write']);
  keyB = await newKey(teamB, ['kb:read', 'kb:write']);
  openaiA = sdk(keyA);
  openaiB = sdk(keyB);
  openaiRead = sdk(await newKey(teamA, ['kb:read']));
});

afterAll(() => corral?.stop());

describe('vector stores through the openai SDK', () => {
  let storeId: string;
  let fileId: string;
  let hrFileId: string;

  it('uploads a file, creates a store, indexes files and a batch, and searches them', async () => {
    const file = await openaiA.files.create({
      file: await toFile(
        md('Travel policy', 'Economy class is required for flights under six hours.'),
        'travel.md',
      ),
      purpose: 'assistants',
    });
    expect(file).toMatchObject({
      object: 'file',
      filename: 'travel.md',
      purpose: 'assistants',
      status: 'processed',
    });
    expect(file.bytes).toBeGreaterThan(10);
    fileId = file.id;
    expect((await openaiA.files.retrieve(file.id)).id).toBe(file.id);
    expect(Buffer.from(await (await openaiA.files.content(file.id)).arrayBuffer()).toString()).toContain(
      'Economy class',
    );

    const store = await openaiA.vectorStores.create({ name: 'handbook', metadata: { owner: 'ops' } });
    expect(store).toMatchObject({ object: 'vector_store', name: 'handbook', metadata: { owner: 'ops' } });
    expect(store.file_counts).toMatchObject({ total: 0 });
    storeId = store.id;

    const vsFile = await openaiA.vectorStores.files.uploadAndPoll(
      storeId,
      await toFile(
        md('Expenses', 'Receipts for the purple giraffe fund must be filed within 30 days.'),
        'expenses.md',
      ),
      { pollIntervalMs: 200 },
    );
    expect(vsFile).toMatchObject({
      object: 'vector_store.file',
      status: 'completed',
      vector_store_id: storeId,
    });
    expect(vsFile.last_error).toBeNull();

    const added = await openaiA.vectorStores.files.createAndPoll(
      storeId,
      { file_id: fileId },
      { pollIntervalMs: 200 },
    );
    expect(added.status).toBe('completed');

    const batch = await openaiA.vectorStores.fileBatches.uploadAndPoll(
      storeId,
      {
        files: [
          await toFile(md('Leave', 'Parental leave lasts sixteen weeks at full pay.'), 'leave.md'),
          await toFile(
            md('Security', 'Badges must be worn visibly on the campus at all times.'),
            'security.md',
          ),
          await toFile(md('Kitchen', 'The espresso machine is descaled every Friday.'), 'kitchen.md'),
        ],
      },
      { pollIntervalMs: 200 },
    );
    expect(batch).toMatchObject({ object: 'vector_store.files_batch', status: 'completed' });
    expect(batch.file_counts).toMatchObject({ completed: 3, failed: 0, total: 3 });
    const inBatch = await openaiA.vectorStores.fileBatches.listFiles(batch.id, { vector_store_id: storeId });
    expect(inBatch.data).toHaveLength(3);

    const retrieved = await openaiA.vectorStores.retrieve(storeId);
    expect(retrieved.file_counts).toMatchObject({ completed: 5, total: 5, in_progress: 0 });
    expect(retrieved.status).toBe('completed');

    const results = await openaiA.vectorStores.search(storeId, { query: 'purple giraffe receipts' });
    expect(results.data.length).toBeGreaterThan(0);
    expect(results.data[0]).toMatchObject({ file_id: vsFile.id, filename: 'expenses.md' });
    expect(results.data[0]!.content[0]!.text).toContain('purple giraffe');

    const content = await openaiA.vectorStores.files.content(vsFile.id, { vector_store_id: storeId });
    expect(content.data.map((c) => c.text).join('')).toContain('purple giraffe');
  });

  it('narrows a search with an attribute filter', async () => {
    const hr = await openaiA.files.create({
      file: await toFile(md('Onboarding', 'New hires meet the mentor on day one.'), 'onboarding.md'),
      purpose: 'assistants',
    });
    hrFileId = hr.id;
    const doc = await openaiA.vectorStores.files.createAndPoll(
      storeId,
      { file_id: hr.id, attributes: { dept: 'hr' } },
      { pollIntervalMs: 200 },
    );
    expect(doc).toMatchObject({ status: 'completed', attributes: { dept: 'hr' } });
    const all = await openaiA.vectorStores.search(storeId, { query: ['mentor', 'giraffe'] });
    expect(new Set(all.data.map((h) => h.filename))).toEqual(new Set(['onboarding.md', 'expenses.md']));
    const onlyHr = await openaiA.vectorStores.search(storeId, {
      query: ['mentor', 'giraffe'],
      filters: { key: 'dept', type: 'eq', value: 'hr' },
    });
    expect(onlyHr.data.map((h) => h.filename)).toEqual(['onboarding.md']);
    expect(onlyHr.data[0]!.attributes).toEqual({ dept: 'hr' });
  });

  it("hides one team's store, files and search from another team's key", async () => {
    for (const p of [
      openaiB.vectorStores.retrieve(storeId),
      openaiB.vectorStores.search(storeId, { query: 'giraffe' }),
      openaiB.vectorStores.files.list(storeId),
      openaiB.vectorStores.files.retrieve(hrFileId, { vector_store_id: storeId }),
      openaiB.vectorStores.files.content(hrFileId, { vector_store_id: storeId }),
      openaiB.files.retrieve(fileId),
      openaiB.files.content(fileId),
      openaiB.vectorStores.files.create(storeId, { file_id: fileId }),
    ])
      expect((await apiError(p)).status).toBe(404);
    const stores = await openaiB.vectorStores.list();
    expect(stores.data.map((s) => s.id)).not.toContain(storeId);
    const files = await openaiB.files.list();
    expect(files.data.map((f) => f.id)).not.toContain(fileId);
    // Its own store cannot take the other team's file either.
    const own = await openaiB.vectorStores.create({ name: 'beta' });
    expect((await apiError(openaiB.vectorStores.files.create(own.id, { file_id: fileId }))).status).toBe(404);
    expect((await openaiA.vectorStores.list()).data.map((s) => s.id)).not.toContain(own.id);
  });

  it('lets a kb:read key read but not create', async () => {
    expect((await openaiRead.vectorStores.retrieve(storeId)).id).toBe(storeId);
    const e = await apiError(openaiRead.vectorStores.create({ name: 'nope' }));
    expect(e.status).toBe(403);
  });

  it('refuses bad input in OpenAI error shape', async () => {
    const noFile = new FormData();
    noFile.append('purpose', 'assistants');
    const r1 = await fetch(`${corral.url}/v1/files`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${keyA}` },
      body: noFile,
    });
    expect(r1.status).toBe(400);
    const b1 = (await r1.json()) as { error: { message: string; type: string; param: string | null } };
    expect(b1.error).toMatchObject({ type: 'invalid_request_error', param: 'file' });

    const bad = await apiError(
      openaiA.files.create({
        file: await toFile(Buffer.from('x'), 'x.txt'),
        purpose: 'fine-tune',
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.message).toContain('purpose');
    expect((bad.error as { param?: string }).param).toBe('purpose');

    const zero = await apiError(openaiA.vectorStores.search(storeId, { query: 'x', max_num_results: 0 }));
    expect(zero.status).toBe(400);
    expect(zero.message).toContain('max_num_results');

    const unknown = await apiError(openaiA.vectorStores.retrieve('vs_does_not_exist'));
    expect(unknown.status).toBe(404);
    expect((unknown.error as { type?: string }).type).toBe('not_found_error');

    const extra = await apiError(
      openaiA.vectorStores.create({ name: 'x', colour: 'red' } as unknown as OpenAI.VectorStoreCreateParams),
    );
    expect(extra.status).toBe(400);
    expect(extra.message).toContain('colour');
  });

  it('deletes a file from the store and the store itself', async () => {
    const del = await openaiA.vectorStores.files.delete(hrFileId, { vector_store_id: storeId });
    expect(del).toMatchObject({ id: hrFileId, deleted: true, object: 'vector_store.file.deleted' });
    const gone = await openaiA.vectorStores.search(storeId, { query: 'mentor' });
    expect(gone.data.map((h) => h.filename)).not.toContain('onboarding.md');
    expect(await openaiA.vectorStores.delete(storeId)).toMatchObject({ deleted: true });
    expect((await apiError(openaiA.vectorStores.retrieve(storeId))).status).toBe(404);
  });
});

describe('admin knowledge-base API', () => {
  it('creates, previews chunks, runs a retrieval test with stages, and deletes', async () => {
    const headers = { Authorization: `Bearer ${keyA}`, 'content-type': 'application/json' };
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(corral.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, json: (await r.json().catch(() => undefined)) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const created = await call('POST', '/admin/v1/knowledge-bases', {
      teamId: teamA,
      name: 'admin-kb',
      topK: 5,
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ teamId: teamA, name: 'admin-kb', settings: { topK: 5 } });
    const id = created.json.id as string;
    const f = await openaiA.files.create({
      file: await toFile(md('Parking', 'Visitors park on level minus two.'), 'parking.md'),
      purpose: 'assistants',
    });
    await openaiA.vectorStores.files.createAndPoll(id, { file_id: f.id }, { pollIntervalMs: 200 });
    const docs = await call('GET', `/admin/v1/knowledge-bases/${id}/documents?status=completed`);
    expect(docs.json.data).toHaveLength(1);
    const chunks = await call('GET', `/admin/v1/knowledge-bases/${id}/documents/${f.id}/chunks?limit=5`);
    expect(chunks.status).toBe(200);
    expect(chunks.json.data[0].text).toContain('level minus two');
    const test = await call('POST', `/admin/v1/knowledge-bases/${id}/retrieval-test`, {
      query: 'visitors park',
    });
    expect(test.status).toBe(200);
    expect(test.json.hits[0]).toMatchObject({ filename: 'parking.md' });
    expect(test.json.hits[0].stages.bm25).toBeDefined();
    expect(test.json.stages.map((s: { name: string }) => s.name)).toContain('bm25');
    const patched = await call('PATCH', `/admin/v1/knowledge-bases/${id}`, { name: 'renamed', bogus: 1 });
    expect(patched.status).toBe(400);
    expect((await call('GET', `/admin/v1/knowledge-bases?team=${teamB}`)).json.data).toEqual([]);
    expect((await call('DELETE', `/admin/v1/knowledge-bases/${id}`)).status).toBe(204);
    expect((await call('GET', `/admin/v1/knowledge-bases/${id}`)).status).toBe(404);
  });
});
