/**
 * Models have owners (docs/models.md, "Who owns a model"). Before, the models directory was one
 * namespace: team B's models:write key deleted team A's model and replaced another team's weights
 * and system prompt behind the same name (200). Now a team's new name is the team's: other teams
 * get 404 for it everywhere (show, list, run, embed, copy from, delete, /v2) and 409 when they try
 * to create over it; a shared name (from before, or created by a global admin) is usable by every
 * team and changed only by global admins, in the audit log with before and after.
 *
 * The matrix: the global admin key, team A owner's models:write key, team B owner's models:write
 * key and team A member's inference-only key.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildScriptedModel, buildTinyLlama } from '@corral/registry';
import { SCRIPT, SCRIPT_TEXT, postJson, startCorral, type CorralProcess } from '@corral/testing';

jest.setTimeout(180_000);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('model ownership', () => {
  let corral: CorralProcess;
  let admin: Record<string, string>;
  let keyA: Record<string, string>;
  let keyB: Record<string, string>;
  let memberA: Record<string, string>;
  let teamA: string;
  let teamB: string;
  let goodDigest: string;
  let evilDigest: string;
  let sharedDigest: string;
  const password = 'tangerine-zeppelin-42';

  const call = async (headers: Record<string, string>, method: string, path: string, body?: unknown) => {
    const r = await postJson(corral.url + path, body ?? '', method, headers);
    return { status: r.status, json: (r.json ?? {}) as Json, text: r.text };
  };
  const get = (h: Record<string, string>, path: string) =>
    fetch(corral.url + path, { headers: h }).then(async (r) => ({
      status: r.status,
      json: (await r.json().catch(() => ({}))) as Json,
    }));
  const create = async (h: Record<string, string>, model: string, digest: string, extra: Json = {}) => {
    // Deleting a model deletes the blobs nothing else uses: upload again (a no-op when present).
    await upload(blobFiles.get(digest)!);
    return call(h, 'POST', '/api/create', { model, files: { 'm.gguf': digest }, stream: false, ...extra });
  };
  /** The status, with the body in the failure message. */
  const status = (r: { status: number; text: string }) => expect(`${r.status} ${r.text}`);
  const show = (h: Record<string, string>, model: string) => call(h, 'POST', '/api/show', { model });
  const del = (h: Record<string, string>, model: string) => call(h, 'DELETE', '/api/delete', { model });
  const copy = (h: Record<string, string>, source: string, destination: string) =>
    call(h, 'POST', '/api/copy', { source, destination });
  const generate = (h: Record<string, string>, model: string) =>
    call(h, 'POST', '/api/generate', { model, prompt: 'hi', stream: false });
  const tags = async (h: Record<string, string>) =>
    ((await get(h, '/api/tags')).json.models as Json[]).map((m) => String(m.name));
  const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

  const blobFiles = new Map<string, string>();
  async function upload(file: string): Promise<string> {
    const data = readFileSync(file);
    const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
    blobFiles.set(digest, file);
    const r = await fetch(`${corral.url}/api/blobs/${digest}`, {
      method: 'POST',
      body: data,
      headers: admin,
    });
    expect([200, 201]).toContain(r.status);
    return digest;
  }

  async function teamKey(team: string, email: string, role: string, scopes: string[]): Promise<string> {
    const user = await call(admin, 'POST', '/admin/v1/users', { email, password });
    expect(user.status).toBe(201);
    expect(
      (await call(admin, 'POST', `/admin/v1/teams/${team}/members`, { user_id: user.json.id, role })).status,
    ).toBe(201);
    const key = await call(admin, 'POST', '/admin/v1/keys', {
      team_id: team,
      name: email,
      user_id: user.json.id,
      scopes,
    });
    expect(key.status).toBe(201);
    return String(key.json.key);
  }

  beforeAll(async () => {
    // 127.0.0.1:9 (discard) is allow-listed and refuses connections: a pull that got past the
    // ownership check would fail there instead.
    corral = await startCorral({ CORRAL_REGISTRY_ALLOW: 'http://127.0.0.1:9,127.0.0.1:9' });
    admin = corral.authHeaders;
    const dir = corral.home;
    await buildScriptedModel(join(dir, 'good.gguf'), { script: SCRIPT, name: 'good' });
    await buildTinyLlama(join(dir, 'evil.gguf'), { name: 'evil' });
    await buildScriptedModel(join(dir, 'shared.gguf'), { script: ['Shared', '▁hello', '!'], name: 'shared' });
    sharedDigest = await upload(join(dir, 'shared.gguf'));
    goodDigest = await upload(join(dir, 'good.gguf'));
    evilDigest = await upload(join(dir, 'evil.gguf'));
    teamA = (await call(admin, 'POST', '/admin/v1/teams', { name: 'alpha' })).json.id as string;
    teamB = (await call(admin, 'POST', '/admin/v1/teams', { name: 'beta' })).json.id as string;
    const writer = ['models:read', 'models:write', 'inference', 'embeddings'];
    keyA = bearer(await teamKey(teamA, 'a-owner@example.com', 'owner', writer));
    keyB = bearer(await teamKey(teamB, 'b-owner@example.com', 'owner', writer));
    memberA = bearer(await teamKey(teamA, 'a-member@example.com', 'member', ['inference']));

    // A shared model (the admin's), and team A's own, with a system prompt of its own.
    expect((await create(admin, 'shared-base', sharedDigest, { system: 'shared prompt' })).status).toBe(200);
    expect((await create(keyA, 'alpha-bot', goodDigest, { system: 'I am alpha' })).status).toBe(200);
  });
  afterAll(() => corral?.stop());

  /** Team A's model as team A sees it: weights (digests) and system prompt. */
  async function alphaAsA() {
    const s = await show(keyA, 'alpha-bot');
    expect(s.status).toBe(200);
    const listed = ((await get(keyA, '/api/tags')).json.models as Json[]).find(
      (m) => m.name === 'alpha-bot:latest',
    );
    return { system: s.json.system, digest: listed?.digest, modelfile: s.json.modelfile };
  }

  it("keeps team A's model from team B: 409 to replace, 404 to delete, show, run or copy from", async () => {
    const before = await alphaAsA();
    expect(before.system).toBe('I am alpha');

    const replace = await create(keyB, 'alpha-bot', evilDigest, { system: 'pwned' });
    expect(replace.status).toBe(409);
    expect(replace.json.error).toMatch(/already taken/);
    // Says the name is taken, nothing about whose it is or what it holds.
    expect(replace.text).not.toMatch(/alpha'|team|sha256/i);
    expect((await copy(keyB, 'shared-base', 'alpha-bot')).status).toBe(409);
    expect((await del(keyB, 'alpha-bot')).status).toBe(404);
    const shown = await show(keyB, 'alpha-bot');
    expect(shown.status).toBe(404);
    // Exactly what a model that does not exist answers.
    expect(shown.json).toEqual({ error: "model 'alpha-bot' not found" });
    expect((await show(keyB, 'no-such-model')).json).toEqual({ error: "model 'no-such-model' not found" });
    expect((await generate(keyB, 'alpha-bot')).status).toBe(404);
    expect((await call(keyB, 'POST', '/api/embed', { model: 'alpha-bot', input: 'x' })).status).toBe(404);
    expect((await copy(keyB, 'alpha-bot', 'beta-stolen')).status).toBe(404);
    const chat = await call(keyB, 'POST', '/v1/chat/completions', {
      model: 'alpha-bot',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(chat.status).toBe(404);
    expect(chat.json.error.message).toBe("The model 'alpha-bot' does not exist");
    expect((await get(keyB, '/v1/models/alpha-bot')).status).toBe(404);
    expect((await get(keyB, '/v2/library/alpha-bot/manifests/latest')).status).toBe(404);
    expect((await get(keyB, `/v2/library/alpha-bot/blobs/${goodDigest}`)).status).toBe(404);

    // Lists: team B sees the shared model but not team A's.
    expect(await tags(keyB)).toEqual(expect.arrayContaining(['shared-base:latest']));
    expect(await tags(keyB)).not.toContain('alpha-bot:latest');
    const v1 = ((await get(keyB, '/v1/models')).json.data as Json[]).map((m) => m.id);
    expect(v1).toContain('shared-base:latest');
    expect(v1).not.toContain('alpha-bot:latest');

    // Nothing of team A's changed.
    expect(await alphaAsA()).toEqual(before);
    expect((await get(keyA, '/v2/library/alpha-bot/manifests/latest')).status).toBe(200);
    expect((await get(keyA, `/v2/library/alpha-bot/blobs/${goodDigest}`)).status).toBe(200);
  });

  it('lets the owning team use, replace and delete its model, and frees the name on delete', async () => {
    expect((await create(keyA, 'alpha-scratch', goodDigest, { system: 'one' })).status).toBe(200);
    expect((await create(keyA, 'alpha-scratch', evilDigest, { system: 'two' })).status).toBe(200);
    expect((await show(keyA, 'alpha-scratch')).json.system).toBe('two');
    expect((await copy(keyA, 'alpha-bot', 'alpha-copy')).status).toBe(200);
    expect((await show(keyB, 'alpha-copy')).status).toBe(404);
    expect((await del(keyA, 'alpha-scratch')).status).toBe(200);
    expect((await del(keyA, 'alpha-copy')).status).toBe(200);
    // The owner row went with the model: the name is free again, now for team B.
    status(await create(keyB, 'alpha-scratch', evilDigest)).toMatch(/^200 /);
    expect((await show(keyA, 'alpha-scratch')).status).toBe(404);
    expect((await del(keyB, 'alpha-scratch')).status).toBe(200);
  });

  it("lets team A's inference-only member key run team A's models only", async () => {
    const r = await generate(memberA, 'alpha-bot');
    expect(r.status).toBe(200);
    expect(r.json.response).toBe(SCRIPT_TEXT);
    expect((await generate(memberA, 'shared-base')).status).toBe(200);
    expect((await create(memberA, 'alpha-other', goodDigest)).status).toBe(403);
    expect((await del(memberA, 'alpha-bot')).status).toBe(403);

    // Team B's own model (weights of its own, so /api/ps names it, not a model sharing its file).
    status(await create(keyB, 'beta-base', evilDigest)).toMatch(/^200 /);
    expect((await generate(memberA, 'beta-base')).status).toBe(404);
    const run = await call(keyB, 'POST', '/api/generate', {
      model: 'beta-base',
      prompt: 'hi',
      stream: false,
      options: { num_predict: 2 },
    });
    expect(run.status).toBe(200);
    // /api/ps: loaded models of other teams are not shown either.
    const ps = async (h: Record<string, string>) =>
      ((await get(h, '/api/ps')).json.models as Json[]).map((m) => String(m.name));
    expect(await ps(keyA)).toContain('alpha-bot:latest');
    expect(await ps(keyB)).not.toContain('alpha-bot:latest');
    expect(await ps(keyB)).toContain('beta-base:latest');
    expect(await ps(keyA)).not.toContain('beta-base:latest');
    expect(await ps(admin)).toEqual(expect.arrayContaining(['alpha-bot:latest', 'beta-base:latest']));
  });

  it('keeps shared models for global admins: teams may use and copy them, not change them', async () => {
    // Copying a shared model into the team's own namespace is fine; the copy is the team's.
    expect((await copy(keyB, 'shared-base', 'beta-copy')).status).toBe(200);
    expect((await show(keyA, 'beta-copy')).status).toBe(404);
    expect((await del(keyB, 'beta-copy')).status).toBe(200);
    for (const h of [keyA, keyB]) {
      expect((await create(h, 'shared-base', evilDigest, { system: 'pwned' })).status).toBe(403);
      const d = await del(h, 'shared-base');
      expect(d.status).toBe(403);
      expect(d.json.error).toMatch(/shared: only a global admin/);
      expect((await copy(h, 'alpha-bot', 'shared-base')).status).toBe(h === keyA ? 403 : 404);
      expect((await show(h, 'shared-base')).json.system).toBe('shared prompt');
    }
    // A team may not take a shared name by pulling onto it either (refused before any connection).
    expect((await call(keyB, 'POST', '/api/pull', { model: 'shared-base', stream: false })).status).toBe(403);
  });

  it("refuses a pull onto another team's name before connecting anywhere", async () => {
    const remoteName = '127.0.0.1:9/alpha/bot';
    expect((await copy(keyA, 'alpha-bot', remoteName)).status).toBe(200);
    const r = await call(keyB, 'POST', '/api/pull', { model: remoteName, insecure: true, stream: false });
    expect(r.status).toBe(409);
    // The same pull of a free name gets past the check and fails at the (unreachable) source.
    const free = await call(keyB, 'POST', '/api/pull', {
      model: '127.0.0.1:9/beta/bot',
      insecure: true,
      stream: false,
    });
    expect(free.status).not.toBe(409);
    expect(free.status).toBeGreaterThanOrEqual(400);
    // That failed pull left no reservation: team A may create the name.
    expect((await copy(keyA, 'alpha-bot', '127.0.0.1:9/beta/bot')).status).toBe(200);
    expect((await del(keyA, '127.0.0.1:9/beta/bot')).status).toBe(200);
    expect((await del(keyA, remoteName)).status).toBe(200);
  });

  it('lets global admins see and change every model, audited with the owner', async () => {
    expect((await show(admin, 'alpha-bot')).json.system).toBe('I am alpha');
    expect(await tags(admin)).toEqual(expect.arrayContaining(['alpha-bot:latest', 'beta-base:latest']));
    expect((await create(admin, 'shared-base', evilDigest, { system: 'shared prompt v2' })).status).toBe(200);
    expect((await show(keyB, 'shared-base')).json.system).toBe('shared prompt v2');

    // An admin may create a model for a team (x-corral-team), then it is that team's.
    expect((await create({ ...admin, 'x-corral-team': teamB }, 'beta-gift', goodDigest)).status).toBe(200);
    expect((await show(keyB, 'beta-gift')).status).toBe(200);
    expect((await show(keyA, 'beta-gift')).status).toBe(404);
    // A team key cannot speak for another team.
    expect((await create({ ...keyA, 'x-corral-team': teamB }, 'alpha-x', goodDigest)).status).toBe(403);
    expect((await del(admin, 'beta-gift')).status).toBe(200);
    expect((await del(admin, 'beta-base')).status).toBe(200);

    // The replacement of the shared model is in the audit log with before, after and the owner.
    let event: Json | undefined;
    for (let i = 0; i < 50 && !event; i++) {
      const r = await get(
        admin,
        '/admin/v1/audit?action=model.create&resource=model:shared-base&outcome=success',
      );
      event = (r.json.data as Json[] | undefined)?.find((e) => e.details?.before);
      if (!event) await new Promise((res) => setTimeout(res, 200));
    }
    expect(event).toBeDefined();
    expect(event!.details).toMatchObject({
      model_owner: 'shared',
      before: { name: 'shared-base:latest' },
      after: { name: 'shared-base:latest' },
    });
    expect(event!.details.before.model_digest).not.toBe(event!.details.after.model_digest);
  });

  it('lets team B create models of its own after all that', async () => {
    status(await create(keyB, 'beta-bot', evilDigest, { system: 'I am beta' })).toMatch(/^200 /);
    expect((await show(keyB, 'beta-bot')).json.system).toBe('I am beta');
    expect((await show(keyA, 'beta-bot')).status).toBe(404);
    expect(teamA).not.toBe(teamB);
  });
});
