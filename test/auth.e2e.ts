/**
 * Identity as clients meet it: the ollama and openai SDKs carrying real keys against the real server.
 * No key, a bad key, a malformed header, a revoked or expired key: the same 401. Missing scope or a
 * model outside the allow-list: 403 naming it. Another team's resources: 404. Revocation within 1 s,
 * rotation grace, admin and team-owner boundaries, console login with CSRF, the CLI's key verbs.
 * Runs on PGlite, and again on PostgreSQL (own schema) when DATABASE_URL is set.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ollama } from 'ollama';
import OpenAI, { APIError } from 'openai';
import { Client } from 'pg';
import {
  SCRIPT_TEXT,
  buildTinyModels,
  importModel,
  postJson,
  runCli,
  startCorral,
  type CorralProcess,
} from '@corral/testing';

jest.setTimeout(240_000);

const targets: [string, () => NodeJS.ProcessEnv][] = [['pglite', () => ({})]];
if (process.env.DATABASE_URL) {
  targets.push([
    'postgres',
    () => ({
      DATABASE_URL: process.env.DATABASE_URL,
      CORRAL_DB_SCHEMA: `auth_e2e_${process.pid}_${Date.now()}`,
    }),
  ]);
} else {
  console.log('DATABASE_URL not set: auth e2e runs on PGlite only');
}

async function rejection(p: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof APIError) return { status: e.status ?? 0, message: e.message };
    const err = e as { status_code?: number; error?: string; message: string };
    return { status: err.status_code ?? 0, message: err.error ?? err.message };
  }
  throw new Error('expected the request to be refused');
}

describe.each(targets)('auth on %s', (_name, envFor) => {
  let corral: CorralProcess;
  const env = envFor();
  let teamA: string;
  let teamB: string;
  let ownerId: string;
  let ownerKey: string;
  let keyB: { id: string; key: string };
  const ownerPassword = 'tangerine-zeppelin-42';

  const as = (key: string, path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') =>
    fetch(corral.url + path, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (r) => ({
      status: r.status,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      json: (await r.json().catch(() => undefined)) as Record<string, any>,
    }));
  const admin = (path: string, body?: unknown, method?: string) => as(corral.key, path, body, method);
  const newKey = async (body: Record<string, unknown>, key = corral.key) => {
    const r = await as(key, '/admin/v1/keys', body);
    if (r.status !== 201) throw new Error(`key create failed: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json as { id: string; key: string };
  };
  const ollamaWith = (key: string) =>
    new Ollama({ host: corral.url, headers: { Authorization: `Bearer ${key}` } });
  const openaiWith = (key: string) => new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: key, maxRetries: 0 });

  beforeAll(async () => {
    const models = await buildTinyModels();
    corral = await startCorral(env);
    await importModel(corral.url, 'scripted', models.scripted);
    await importModel(corral.url, 'random', models.random);
    teamA = (await admin('/admin/v1/teams', { name: 'alpha' })).json!.id as string;
    teamB = (await admin('/admin/v1/teams', { name: 'beta' })).json!.id as string;
    const owner = await admin('/admin/v1/users', { email: 'olive@example.com', password: ownerPassword });
    ownerId = owner.json!.id as string;
    expect(
      (await admin(`/admin/v1/teams/${teamA}/members`, { user_id: ownerId, role: 'owner' })).status,
    ).toBe(201);
    ownerKey = (
      await newKey({
        team_id: teamA,
        name: 'owner',
        user_id: ownerId,
        scopes: ['admin', 'inference', 'embeddings', 'models:read'],
      })
    ).key;
    keyB = await newKey({ team_id: teamB, name: 'beta-app', scopes: ['inference', 'models:read'] });
  });

  afterAll(async () => {
    await corral?.stop();
    if (env.CORRAL_DB_SCHEMA) {
      const pg = new Client({ connectionString: env.DATABASE_URL });
      await pg.connect();
      await pg.query(`DROP SCHEMA IF EXISTS "${env.CORRAL_DB_SCHEMA}" CASCADE`);
      await pg.end();
    }
  });

  it('refuses a request without a key, in each SDK', async () => {
    expect(await rejection(new Ollama({ host: corral.url }).list())).toMatchObject({ status: 401 });
    // The OpenAI SDK insists on some key: one that is not a Corral key is the same as none.
    expect(await rejection(openaiWith('sk-not-a-corral-key').models.list())).toMatchObject({ status: 401 });
    // Health and version stay public for Ollama's probes.
    expect((await fetch(corral.url + '/api/version')).status).toBe(200);
  });

  it('answers every authentication failure with the same body', async () => {
    const revoked = await newKey({ team_id: teamA, name: 'soon-revoked', scopes: ['models:read'] });
    await admin(`/admin/v1/keys/${revoked.id}/revoke`, {});
    // A real key with its last character changed (to one it does not already end with).
    const tampered = keyB.key.slice(0, -1) + (keyB.key.endsWith('A') ? 'B' : 'A');
    const variants: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer' },
      { Authorization: 'Basic dXNlcjpwYXNz' },
      { Authorization: 'Bearer crl_short_x' },
      { Authorization: `Bearer ${tampered}` },
      { Authorization: `Bearer ${revoked.key}` },
      { 'x-api-key': 'not-a-key' },
    ];
    const bodies = new Set<string>();
    for (const headers of variants) {
      const r = await fetch(`${corral.url}/v1/models`, { headers });
      expect(r.status).toBe(401);
      bodies.add(await r.text());
    }
    expect([...bodies]).toEqual([
      JSON.stringify({
        error: {
          message: 'invalid or missing credentials',
          type: 'authentication_error',
          param: null,
          code: 'unauthorized',
        },
      }),
    ]);
    // x-api-key works as well as Bearer.
    expect((await fetch(`${corral.url}/v1/models`, { headers: { 'x-api-key': keyB.key } })).status).toBe(200);
  });

  it('refuses a key outside its scopes with 403 naming the scope', async () => {
    const e1 = await rejection(ollamaWith(keyB.key).embed({ model: 'random', input: 'hi' }));
    expect(e1.status).toBe(403);
    expect(e1.message).toMatch(/'embeddings' scope/);
    const e2 = await rejection(openaiWith(keyB.key).embeddings.create({ model: 'random', input: 'hi' }));
    expect(e2.status).toBe(403);
    expect(e2.message).toMatch(/'embeddings' scope/);
    const e3 = await rejection(ollamaWith(keyB.key).delete({ model: 'scripted' }));
    expect(e3).toMatchObject({ status: 403, message: expect.stringMatching(/'models:write' scope/) });
    // And it still works for what it may do.
    const chat = await openaiWith(keyB.key).chat.completions.create({
      model: 'scripted',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(chat.choices[0]?.message.content).toBe(SCRIPT_TEXT);
  });

  it('refuses a model outside the allow-list with 403 naming the model', async () => {
    const limited = await newKey({
      team_id: teamA,
      name: 'scripted-only',
      scopes: ['inference', 'models:read'],
      models: ['scripted'],
    });
    const ok = await ollamaWith(limited.key).generate({ model: 'scripted:latest', prompt: 'hi' });
    expect(ok.response).toBe(SCRIPT_TEXT);
    const e1 = await rejection(ollamaWith(limited.key).generate({ model: 'random', prompt: 'hi' }));
    expect(e1).toMatchObject({ status: 403, message: expect.stringMatching(/model 'random:latest'/) });
    const e2 = await rejection(
      openaiWith(limited.key).chat.completions.create({
        model: 'random',
        messages: [{ role: 'user', content: 'x' }],
      }),
    );
    expect(e2).toMatchObject({ status: 403, message: expect.stringMatching(/model 'random:latest'/) });
    expect((await rejection(openaiWith(limited.key).models.retrieve('random'))).status).toBe(403);
    // Listings show only the allowed models.
    expect((await ollamaWith(limited.key).list()).models.map((m) => m.name)).toEqual(['scripted:latest']);
    expect((await openaiWith(limited.key).models.list()).data.map((m) => m.id)).toEqual(['scripted:latest']);
  });

  it("answers 404 for another team's resources", async () => {
    expect((await as(ownerKey, `/admin/v1/teams/${teamB}`)).status).toBe(404);
    expect((await as(ownerKey, `/admin/v1/teams/${teamB}/members`)).status).toBe(404);
    expect((await as(ownerKey, `/admin/v1/keys/${keyB.id}`)).status).toBe(404);
    expect((await as(ownerKey, `/admin/v1/keys/${keyB.id}/revoke`, {})).status).toBe(404);
    const create = await as(ownerKey, '/admin/v1/keys', { team_id: teamB, name: 'x', scopes: ['inference'] });
    expect(create.status).toBe(404);
    // The same ids exist for the admin.
    expect((await admin(`/admin/v1/keys/${keyB.id}`)).status).toBe(200);
    const listed = await as(ownerKey, '/admin/v1/keys');
    expect(listed.status).toBe(200);
    const teams = new Set((listed.json.data as { team_id: string }[]).map((k) => k.team_id));
    expect([...teams]).toEqual([teamA]);
  });

  it('holds the admin and team-owner boundaries', async () => {
    expect((await as(ownerKey, '/admin/v1/users')).status).toBe(403);
    expect((await as(ownerKey, '/admin/v1/teams', { name: 'gamma' })).status).toBe(403);
    const teams = await as(ownerKey, '/admin/v1/teams');
    expect((teams.json.data as { id: string }[]).map((t) => t.id)).toEqual([teamA]);
    // An owner manages its own team's members and keys, but never grants scopes it lacks.
    const bob = await admin('/admin/v1/users', { email: 'bob@example.com' });
    expect(
      (await as(ownerKey, `/admin/v1/teams/${teamA}/members`, { email: 'bob@example.com', role: 'member' }))
        .status,
    ).toBe(201);
    const grant = await as(ownerKey, '/admin/v1/keys', {
      team_id: teamA,
      name: 'w',
      scopes: ['models:write'],
    });
    expect(grant).toMatchObject({ status: 403, json: { error: expect.stringMatching(/'models:write'/) } });
    // A key without the admin scope cannot use the admin API at all.
    const plain = await as(keyB.key, `/admin/v1/teams/${teamB}`);
    expect(plain).toMatchObject({ status: 403, json: { error: expect.stringMatching(/'admin' scope/) } });
    // The last owner cannot be removed; duplicates are 409; unknown fields are named.
    expect(
      (await as(ownerKey, `/admin/v1/teams/${teamA}/members/${ownerId}`, undefined, 'DELETE')).status,
    ).toBe(409);
    expect((await admin('/admin/v1/teams', { name: 'ALPHA' })).status).toBe(409);
    const unknown = await admin('/admin/v1/keys', {
      team_id: teamA,
      name: 'u',
      scopes: ['inference'],
      colour: 'red',
    });
    expect(unknown).toMatchObject({ status: 400, json: { error: "unknown field 'colour'" } });
    expect(bob.status).toBe(201);
  });

  it('refuses a revoked key within one second', async () => {
    const k = await newKey({ team_id: teamA, name: 'revoke-me', scopes: ['models:read'] });
    const client = ollamaWith(k.key);
    expect((await client.list()).models.length).toBe(2); // verified and cached
    const revokedAt = Date.now();
    expect((await admin(`/admin/v1/keys/${k.id}/revoke`, {})).status).toBe(200);
    const e = await rejection(client.list());
    expect(e.status).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1000);
  });

  it('keeps the old secret valid for the rotation grace period only', async () => {
    const k = await newKey({ team_id: teamA, name: 'rotate-me', scopes: ['models:read'] });
    expect((await openaiWith(k.key).models.list()).data.length).toBe(2);
    const rotated = await admin(`/admin/v1/keys/${k.id}/rotate`, { grace_seconds: 2 });
    const fresh = rotated.json!.key as string;
    expect(fresh).not.toBe(k.key);
    expect((await openaiWith(k.key).models.list()).data.length).toBe(2);
    expect((await openaiWith(fresh).models.list()).data.length).toBe(2);
    await sleep(2300);
    expect((await rejection(openaiWith(k.key).models.list())).status).toBe(401);
    expect((await openaiWith(fresh).models.list()).data.length).toBe(2);
    // Without grace the old secret stops at once.
    const again = await admin(`/admin/v1/keys/${k.id}/rotate`, { grace_seconds: 0 });
    expect((await rejection(openaiWith(fresh).models.list())).status).toBe(401);
    expect((await openaiWith(again.json!.key as string).models.list()).data.length).toBe(2);
  });

  it('refuses an expired key with 401', async () => {
    const expires = new Date(Date.now() + 1500).toISOString();
    const k = await newKey({
      team_id: teamA,
      name: 'short-lived',
      scopes: ['models:read'],
      expires_at: expires,
    });
    expect((await ollamaWith(k.key).list()).models.length).toBe(2);
    await sleep(1700);
    expect((await rejection(ollamaWith(k.key).list())).status).toBe(401);
  });

  it('records last use without blocking requests', async () => {
    const k = await newKey({ team_id: teamA, name: 'used', scopes: ['models:read'] });
    expect((await admin(`/admin/v1/keys/${k.id}`)).json!.last_used_at).toBeNull();
    await ollamaWith(k.key).list();
    let lastUsed: unknown = null;
    for (let i = 0; i < 40 && !lastUsed; i++) {
      await sleep(250);
      lastUsed = (await admin(`/admin/v1/keys/${k.id}`)).json!.last_used_at;
    }
    expect(typeof lastUsed).toBe('string');
  });

  it('logs a console user in with a session cookie and demands the CSRF token', async () => {
    const weak = await admin('/admin/v1/users', { email: 'weak@example.com', password: 'password123' });
    expect(weak).toMatchObject({ status: 400, json: { error: expect.stringMatching(/^weak password: /) } });
    const bad = await postJson(
      `${corral.url}/auth/login`,
      { email: 'olive@example.com', password: 'nope' },
      'POST',
      {},
    );
    expect(bad.status).toBe(401);
    const login = await postJson(
      `${corral.url}/auth/login`,
      { email: 'olive@example.com', password: ownerPassword },
      'POST',
      {},
    );
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    const cookie = setCookie.split(';')[0]!;
    const csrf = login.json!.csrf_token as string;
    const me = await fetch(`${corral.url}/auth/me`, { headers: { cookie } });
    expect(((await me.json()) as { teams: Record<string, string> }).teams).toEqual({ [teamA]: 'owner' });
    const body = JSON.stringify({ name: 'alpha-renamed' });
    const noCsrf = await fetch(`${corral.url}/admin/v1/teams/${teamA}`, {
      method: 'PATCH',
      headers: { cookie },
      body,
    });
    expect(noCsrf.status).toBe(403);
    const withCsrf = await fetch(`${corral.url}/admin/v1/teams/${teamA}`, {
      method: 'PATCH',
      headers: { cookie, 'x-csrf-token': csrf },
      body,
    });
    expect(withCsrf.status).toBe(200);
    const logout = await fetch(`${corral.url}/auth/logout`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(logout.status).toBe(204);
    expect((await fetch(`${corral.url}/auth/me`, { headers: { cookie } })).status).toBe(401);
  });

  it('manages keys from the CLI with the admin key it finds in CORRAL_HOME', async () => {
    const cli = { CORRAL_HOST: corral.url, CORRAL_HOME: corral.home, CORRAL_API_KEY: '' };
    const created = await runCli(
      ['keys', 'create', '--team', teamB, '--name', 'from-cli', '--scopes', 'models:read'],
      cli,
    );
    expect(created.code).toBe(0);
    const key = /crl_[A-Za-z0-9]+_[A-Za-z0-9]+/.exec(created.stdout)?.[0];
    expect(key).toBeDefined();
    expect((await ollamaWith(key!).list()).models.length).toBe(2);
    const list = await runCli(['keys', 'list', '--team', teamB], cli);
    expect(list.stdout).toMatch(/from-cli/);
    expect(list.stdout).not.toMatch(/crl_[A-Za-z0-9]+_[A-Za-z0-9]{20,}/);
    const id = key!.split('_')[1]!;
    expect((await runCli(['keys', 'revoke', id], cli)).code).toBe(0);
    expect((await rejection(ollamaWith(key!).list())).status).toBe(401);
    const teams = await runCli(['teams', 'list'], cli);
    expect(teams.stdout).toMatch(/beta/);
  });

  it('serves an OpenAPI 3.1 document of the admin API', async () => {
    const doc = (await (await fetch(`${corral.url}/admin/v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    const create = doc.paths['/admin/v1/keys']!.post!.requestBody!.content['application/json']!.schema;
    expect(create.required).toEqual(expect.arrayContaining(['team_id', 'name', 'scopes']));
    expect(create.additionalProperties).toBe(false);
  });
});

describe('first start and anonymous loopback', () => {
  let corral: CorralProcess;
  beforeAll(async () => {
    corral = await startCorral({ CORRAL_AUTH_ANONYMOUS: 'loopback' });
  });
  afterAll(() => corral?.stop());

  it('writes the admin key with mode 0600 and prints only its path', () => {
    expect(statSync(join(corral.home, 'admin.key')).mode & 0o777).toBe(0o600);
    expect(corral.output()).toContain(`admin API key written to ${join(corral.home, 'admin.key')}`);
    expect(corral.output()).not.toContain(corral.key);
  });

  it('lets credential-less loopback requests in, but still checks credentials that are sent', async () => {
    expect((await new Ollama({ host: corral.url }).list()).models).toEqual([]);
    const wrong = await fetch(`${corral.url}/api/tags`, { headers: { Authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    // Forwarded requests are not local, whatever the socket says.
    const proxied = await fetch(`${corral.url}/api/tags`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(proxied.status).toBe(401);
  });
});
