/**
 * The audit log as an auditor meets it, against the real built server: a request, an admin change
 * and a failed login each appear in `/admin/v1/audit` with the issue's fields (time, request id,
 * actor, team, route, model, outcome, duration, client address, user agent; before/after for the
 * change, the account tried for the login; never a secret), the export carries them and the chain
 * verifies. Also: every model and key mutation is named, a login names the user, the signing key
 * rotates and the log still verifies.
 *
 * The test marked [enable at merge] needs the inference handlers to report ended runs through
 * `RunObservers` (wired on another branch): a chat by a team whose capture policy is on then has
 * its model and token counts on its event and its prompt/response stored apart, joined to it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import {
  SCRIPT_TEXT,
  buildTinyModels,
  importModel,
  runCli,
  startCorral,
  type CorralProcess,
} from '@corral/testing';

jest.setTimeout(240_000);

interface Event {
  seq: number;
  id: string;
  time: string;
  request_id: string | null;
  actor: { type: string; id: string | null };
  team_id: string | null;
  action: string;
  resource: string | null;
  route: string | null;
  model: string | null;
  outcome: { status: number; error_code: string | null };
  tokens: { prompt: number | null; completion: number | null };
  duration_ms: number | null;
  client_address: string | null;
  user_agent: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  details: Record<string, any> | null;
}

const UA = 'audit-e2e/1.0';

const targets: [string, () => NodeJS.ProcessEnv][] = [['pglite', () => ({ REDIS_URL: '' })]];
if (process.env.DATABASE_URL) {
  targets.push([
    'postgres + redis',
    () => ({
      DATABASE_URL: process.env.DATABASE_URL,
      CORRAL_DB_SCHEMA: `audit_e2e_${process.pid}_${Date.now()}`,
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    }),
  ]);
} else {
  console.log('DATABASE_URL not set: audit e2e runs on PGlite only');
}

describe.each(targets)('audit log over HTTP on %s', (_name, envFor) => {
  let corral: CorralProcess;
  let team: string;
  const env = envFor();

  const call = async (path: string, init: { method?: string; body?: unknown; key?: string | null } = {}) => {
    const headers: Record<string, string> = { 'user-agent': UA, 'content-type': 'application/json' };
    if (init.key !== null) headers.authorization = `Bearer ${init.key ?? corral.key}`;
    const res = await fetch(corral.url + path, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: res.status, json: json as any, text, requestId: res.headers.get('x-request-id') };
  };

  /** The event the request with this id produced, once the appender has written it. */
  async function eventOf(requestId: string | null, action?: string): Promise<Event> {
    expect(requestId).toBeTruthy();
    const until = Date.now() + 20_000;
    for (;;) {
      const page = await call(`/admin/v1/audit?limit=1000${action ? `&action=${action}` : ''}`);
      expect(page.status).toBe(200);
      // The request's own event, not its start record (request.started, written at admission).
      const hit = (page.json.data as Event[]).find(
        (e) => e.request_id === requestId && (e.action !== 'request.started' || action === e.action),
      );
      if (hit) return hit;
      if (Date.now() > until) throw new Error(`no audit event for request ${requestId}`);
      await sleep(100);
    }
  }

  beforeAll(async () => {
    const models = await buildTinyModels();
    corral = await startCorral(env);
    await importModel(corral.url, 'scripted', models.scripted);
    team = (await call('/admin/v1/teams', { body: { name: 'auditors-delight' } })).json.id as string;
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

  it('records an API request with every field', async () => {
    const res = await call('/api/chat', {
      body: { model: 'scripted', messages: [{ role: 'user', content: 'hi' }], stream: false },
    });
    expect(res.status).toBe(200);
    expect(res.json.message.content).toBe(SCRIPT_TEXT);
    const e = await eventOf(res.requestId);
    const me = (await call('/auth/me')).json as { key_id: string; team_id: string };
    expect(e).toMatchObject({
      request_id: res.requestId,
      actor: { type: 'key', id: me.key_id },
      team_id: me.team_id,
      action: 'api.request',
      resource: '/api/chat',
      route: 'POST /api/chat',
      outcome: { status: 200, error_code: null },
      client_address: '127.0.0.1',
      user_agent: UA,
    });
    expect(e.model).toMatch(/^scripted/);
    expect(e.duration_ms).toEqual(expect.any(Number));
    expect(Math.abs(Date.parse(e.time) - Date.now())).toBeLessThan(120_000);
  });

  it('records an admin change with who, what, before and after, and never the secret', async () => {
    const renamed = await call(`/admin/v1/teams/${team}`, {
      method: 'PATCH',
      body: { name: 'auditors-joy' },
    });
    expect(renamed.status).toBe(200);
    const e = await eventOf(renamed.requestId, 'team.update');
    const me = (await call('/auth/me')).json as { key_id: string };
    expect(e).toMatchObject({
      actor: { type: 'key', id: me.key_id },
      team_id: team,
      action: 'team.update',
      resource: `team:${team}`,
      route: 'PATCH /admin/v1/teams/:id',
      outcome: { status: 200 },
      client_address: '127.0.0.1',
      user_agent: UA,
    });
    expect(e.details).toMatchObject({
      before: { id: team, name: 'auditors-delight' },
      after: { id: team, name: 'auditors-joy' },
    });

    const key = await call('/admin/v1/keys', { body: { team_id: team, name: 'ci', scopes: ['inference'] } });
    expect(key.status).toBe(201);
    const k = await eventOf(key.requestId, 'key.create');
    expect(k).toMatchObject({ resource: `key:${key.json.id}`, team_id: team, outcome: { status: 201 } });
    expect(k.details).toMatchObject({
      before: null,
      after: { id: key.json.id, name: 'ci', scopes: ['inference'] },
    });
    const rotated = await call(`/admin/v1/keys/${key.json.id}/rotate`, { body: {} });
    expect(rotated.status).toBe(200);
    const r = await eventOf(rotated.requestId, 'key.rotate');
    expect(r.details).toMatchObject({ before: { id: key.json.id }, after: { id: key.json.id } });
    // Neither secret is anywhere in the log.
    const all = await call('/admin/v1/audit?format=ndjson');
    expect(all.text).not.toContain(key.json.key);
    expect(all.text).not.toContain(rotated.json.key);

    // A refused change is recorded too, with its outcome.
    const refused = await call(`/admin/v1/teams/${team}`, { method: 'PATCH', body: { name: '' } });
    expect(refused.status).toBe(400);
    expect(await eventOf(refused.requestId, 'team.update')).toMatchObject({
      outcome: { status: 400, error_code: 'bad_request' },
      resource: `team:${team}`,
    });
  });

  it('records a failed login naming the account (never the password), and a login naming the user', async () => {
    const email = 'ada@example.com';
    const password = 'correct-horse-battery-staple-9';
    const user = await call('/admin/v1/users', { body: { email, password } });
    expect(user.status).toBe(201);
    const created = await eventOf(user.requestId, 'user.create');
    expect(JSON.stringify(created)).not.toContain(password);
    expect(created.details).toMatchObject({ after: { email, has_password: true } });

    const bad = await call('/auth/login', { body: { email, password: 'wrong-guess-123456' }, key: null });
    expect(bad.status).toBe(401);
    const failure = await eventOf(bad.requestId, 'auth.failure');
    expect(failure).toMatchObject({
      actor: { type: 'anonymous' },
      route: 'POST /auth/login',
      outcome: { status: 401, error_code: 'unauthorized' },
      client_address: '127.0.0.1',
      user_agent: UA,
    });
    expect(failure.details).toMatchObject({ login: 'password', email });

    const good = await call('/auth/login', { body: { email, password }, key: null });
    expect(good.status).toBe(200);
    expect(await eventOf(good.requestId, 'auth.login')).toMatchObject({
      actor: { type: 'user', id: user.json.id },
      outcome: { status: 200 },
      details: { email },
    });
    const everything = await call('/admin/v1/audit?format=ndjson');
    expect(everything.text).not.toContain('wrong-guess-123456');
    expect(everything.text).not.toContain(password);
  });

  it('names model changes: blob upload, create, copy, delete', async () => {
    const copy = await call('/api/copy', { body: { source: 'scripted', destination: 'scripted-copy' } });
    expect(copy.status).toBe(200);
    const c = await eventOf(copy.requestId, 'model.copy');
    expect(c.details).toMatchObject({
      source: 'scripted',
      before: null,
      after: { name: 'scripted-copy:latest' },
    });
    const del = await call('/api/delete', { method: 'DELETE', body: { model: 'scripted-copy' } });
    expect(del.status).toBe(200);
    const d = await eventOf(del.requestId, 'model.delete');
    expect(d).toMatchObject({ resource: 'model:scripted-copy:latest' });
    expect(d.details).toMatchObject({ before: { name: 'scripted-copy:latest' }, after: null });
    const names = ((await call('/admin/v1/audit?action=model.*&limit=100')).json.data as Event[]).map(
      (e) => e.action,
    );
    expect(names).toEqual(expect.arrayContaining(['model.blob_upload', 'model.create']));
  });

  it('exports as NDJSON and CSV, verifies, and still verifies after a key rotation', async () => {
    const csv = await call('/admin/v1/audit?format=csv&action=team.update');
    expect(csv.status).toBe(200);
    expect(csv.text.split('\n')[0]).toContain('request_id');
    expect(csv.text).toContain('team.update');
    const rotate = await call('/admin/v1/audit/rotate-key', { body: {} });
    expect(rotate.status).toBe(200);
    expect(rotate.json.key_id).not.toBe(rotate.json.previous_key_id);
    await eventOf(rotate.requestId, 'audit.key_rotate');
    await call('/api/tags');
    const v = await call('/admin/v1/audit/verify', { body: {} });
    expect(v.json).toMatchObject({ ok: true });
    expect(await eventOf(v.requestId, 'audit.verify')).toMatchObject({
      outcome: { status: 200, error_code: null },
      details: { ok: true },
    });
    expect(v.json.checkpoints).toBeGreaterThanOrEqual(1);

    const cli = await runCli(['audit', 'search', '--action', 'auth.*', '--json'], {
      CORRAL_HOST: corral.url,
      CORRAL_API_KEY: corral.key,
    });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('auth.failure');
  });

  it('a captured chat has model, tokens and content joined to its event', async () => {
    const policy = await call(`/admin/v1/audit/policies/${team}`, {
      method: 'PUT',
      body: { capture: true, retention_days: 7 },
    });
    expect(policy.status).toBe(200);
    const key = await call('/admin/v1/keys', {
      body: { team_id: team, name: 'captured', scopes: ['inference'] },
    });
    const res = await call('/api/chat', {
      key: key.json.key as string,
      body: { model: 'scripted', messages: [{ role: 'user', content: 'the secret plan' }], stream: false },
    });
    expect(res.status).toBe(200);
    const e = await eventOf(res.requestId);
    expect(e).toMatchObject({ team_id: team, model: 'scripted:latest' });
    expect(e.tokens.prompt).toBeGreaterThan(0);
    expect(e.tokens.completion).toBeGreaterThan(0);
    const until = Date.now() + 20_000;
    let content = await call(`/admin/v1/audit/content/${e.id}?team=${team}`);
    while (content.status === 404 && Date.now() < until) {
      await sleep(100);
      content = await call(`/admin/v1/audit/content/${e.id}?team=${team}`);
    }
    expect(content.status).toBe(200);
    expect(content.json).toMatchObject({ event_id: e.id, request_id: res.requestId, team_id: team });
    expect(JSON.stringify(content.json.prompt)).toContain('the secret plan');
    expect(JSON.stringify(content.json.response)).toContain(SCRIPT_TEXT);
    // The content is not in the chained event rows.
    expect((await call('/admin/v1/audit?format=ndjson')).text).not.toContain('the secret plan');
  });
});
