/**
 * What a team owner can see of the admin surface beyond its team. The worker list (hosts, PIDs,
 * host memory, every loaded model) is the deployment's: admins and auditors only, 403 to a team
 * owner, by key or console session. Another team's audit events answer 404, like the team's other
 * resources, rather than an empty page that confirms the team exists.
 */
import { postJson, startCorral, type CorralProcess } from '@corral/testing';

jest.setTimeout(120_000);

describe('admin surface for team owners', () => {
  let corral: CorralProcess;
  let teamA: string;
  let teamB: string;
  let ownerKey: string;
  let cookie: string;
  let auditorCookie: string;
  const password = 'tangerine-zeppelin-42';

  const as = async (headers: Record<string, string>, path: string, body?: unknown) => {
    const r = await fetch(corral.url + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: r.status, json: (await r.json().catch(() => undefined)) as any };
  };
  const admin = (path: string, body?: unknown) => as(corral.authHeaders, path, body);
  const login = async (email: string) => {
    const r = await postJson(`${corral.url}/auth/login`, { email, password }, 'POST', {
      'content-type': 'application/json',
    });
    expect(r.status).toBe(200);
    return (r.headers.get('set-cookie') ?? '').split(';')[0]!;
  };

  beforeAll(async () => {
    corral = await startCorral();
    teamA = (await admin('/admin/v1/teams', { name: 'alpha' })).json.id as string;
    teamB = (await admin('/admin/v1/teams', { name: 'beta' })).json.id as string;
    const owner = await admin('/admin/v1/users', { email: 'olive@example.com', password });
    expect(owner.status).toBe(201);
    expect(
      (await admin(`/admin/v1/teams/${teamA}/members`, { user_id: owner.json.id, role: 'owner' })).status,
    ).toBe(201);
    const key = await admin('/admin/v1/keys', {
      team_id: teamA,
      name: 'owner',
      user_id: owner.json.id,
      scopes: ['admin', 'inference'],
    });
    expect(key.status).toBe(201);
    ownerKey = key.json.key as string;
    expect(
      (await admin('/admin/v1/users', { email: 'audrey@example.com', password, global_role: 'auditor' }))
        .status,
    ).toBe(201);
    cookie = await login('olive@example.com');
    auditorCookie = await login('audrey@example.com');
    // Something of team B's in the log, so an empty page could not pass for a refusal.
    expect((await admin(`/admin/v1/teams/${teamB}`, undefined)).status).toBe(200);
  });
  afterAll(() => corral?.stop());

  it('keeps the worker list (PIDs, host memory, all models) from team owners', async () => {
    const key = await as({ Authorization: `Bearer ${ownerKey}` }, '/admin/v1/workers');
    expect(key.status).toBe(403);
    expect(JSON.stringify(key.json)).not.toMatch(/pid|ram_/);
    const session = await as({ cookie }, '/admin/v1/workers');
    expect(session.status).toBe(403);
    // Admins and auditors still see the deployment.
    const all = await admin('/admin/v1/workers');
    expect(all.status).toBe(200);
    expect(all.json).toMatchObject({ mode: 'embedded', workers: expect.any(Array) });
    expect((await as({ cookie: auditorCookie }, '/admin/v1/workers')).status).toBe(200);
  });

  it("answers 404 for another team's audit events, by key and by session", async () => {
    const callers: Record<string, string>[] = [{ Authorization: `Bearer ${ownerKey}` }, { cookie }];
    for (const h of callers) {
      expect((await as(h, `/admin/v1/audit?team=${teamB}`)).status).toBe(404);
      expect((await as(h, `/admin/v1/audit?team=no-such-team`)).status).toBe(404);
      const own = await as(h, `/admin/v1/audit?team=${teamA}`);
      expect(own.status).toBe(200);
      expect((own.json.data as { team_id: string }[]).every((e) => e.team_id === teamA)).toBe(true);
    }
    // The admin still reads every team's events, B's included.
    let seen = false;
    for (let i = 0; i < 100 && !seen; i++) {
      const r = await admin(`/admin/v1/audit?team=${teamB}`);
      expect(r.status).toBe(200);
      seen = (r.json.data as unknown[]).length > 0;
      if (!seen) await new Promise((res) => setTimeout(res, 100));
    }
    expect(seen).toBe(true);
  });
});
