/**
 * Quota policies and usage over the real server: the admin endpoints (guarded, validated, applied
 * without restart) and the `corral quota` / `corral usage` verbs.
 */
import { postJson, runCli, startCorral, type CorralProcess } from '@corral/testing';

jest.setTimeout(180_000);

let corral: CorralProcess;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  corral = await startCorral();
  env = { CORRAL_HOST: corral.url, CORRAL_HOME: corral.home };
});
afterAll(() => corral?.stop());

const get = (path: string, headers?: Record<string, string>) =>
  fetch(corral.url + path, { headers: headers ?? corral.authHeaders });

it('sets, reads and validates a team quota, and refuses callers without credentials', async () => {
  const team = await postJson(`${corral.url}/admin/v1/teams`, { name: 'quota-e2e' });
  expect(team.status).toBe(201);
  const id = String(team.json!.id);
  const url = `${corral.url}/admin/v1/teams/${id}/quota`;

  const bad = await postJson(url, { requestsPerMinute: -5 }, 'PUT');
  expect(bad.status).toBe(400);
  expect(bad.json).toEqual({ error: 'requestsPerMinute must not be negative' });
  const absurd = await postJson(url, { dailyTokens: 1e18 }, 'PUT');
  expect(absurd.status).toBe(400);
  expect(String(absurd.json!.error)).toMatch(/dailyTokens is absurdly large/);

  const put = await postJson(
    url,
    { requestsPerMinute: 60, dailyTokens: 100000, allowedModels: ['tiny'], weight: 2 },
    'PUT',
  );
  expect(put.status).toBe(200);
  const read = await get(`/admin/v1/teams/${id}/quota`);
  expect(read.status).toBe(200);
  expect(await read.json()).toMatchObject({
    teamId: id,
    requestsPerMinute: 60,
    tokensPerMinute: null,
    dailyTokens: 100000,
    allowedModels: ['tiny'],
    weight: 2,
    usage: { requests: 0, dailyTokens: 0, concurrent: 0 },
  });
  expect((await get(`/admin/v1/teams/${id}/quota`, {})).status).toBe(401);

  // A key of that team: its quota narrows the team's.
  const key = await postJson(`${corral.url}/admin/v1/keys`, {
    team_id: id,
    name: 'batch-jobs',
    scopes: ['inference'],
  });
  expect(key.status).toBe(201);
  const keyUrl = `${corral.url}/admin/v1/keys/${String(key.json!.id)}/quota`;
  const kput = await postJson(keyUrl, { concurrentRequests: 2, priority: 'batch' }, 'PUT');
  expect(kput.status).toBe(200);
  expect(kput.json).toMatchObject({ teamId: id, concurrentRequests: 2, priority: 'batch' });
  expect((await postJson(keyUrl, { priority: 'urgent' }, 'PUT')).status).toBe(400);
  expect((await get('/admin/v1/keys/no-such-key/quota')).status).toBe(404);
});

it('answers usage queries as JSON and CSV and rejects a bad grouping', async () => {
  const range = 'from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z';
  const json = await get(`/admin/v1/usage?${range}&groupBy=team,model&granularity=month`);
  expect(json.status).toBe(200);
  expect(await json.json()).toMatchObject({ granularity: 'month', groupBy: ['team', 'model'], data: [] });
  const csv = await get(`/admin/v1/usage?${range}&groupBy=team&format=csv`);
  expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
  expect(await csv.text()).toBe(
    'period,teamId,requests,errors,promptTokens,completionTokens,totalTokens,avgDurationMs,avgTtftMs\r\n',
  );
  const bad = await get(`/admin/v1/usage?${range}&groupBy=department`);
  expect(bad.status).toBe(400);
  expect(((await bad.json()) as { error: string }).error).toMatch(
    /groupBy: 'department' is not one of team, key, user, model/,
  );
});

it('corral quota set/get and corral usage', async () => {
  const team = await postJson(`${corral.url}/admin/v1/teams`, { name: 'quota-cli' });
  const id = String(team.json!.id);
  const set = await runCli(['quota', 'set', 'team', id, '--rpm', '5', '--daily', '1000'], env);
  expect({ code: set.code, stderr: set.stderr }).toEqual({ code: 0, stderr: '' });
  const set2 = await runCli(['quota', 'set', 'team', id, '--tpm', '9000', '--daily', 'none'], env);
  expect({ code: set2.code, stderr: set2.stderr }).toEqual({ code: 0, stderr: '' });
  const shown = await runCli(['quota', 'get', 'team', id], env);
  expect({ code: shown.code, stderr: shown.stderr }).toEqual({ code: 0, stderr: '' });
  expect(shown.stdout).toMatch(/REQUESTS\/MIN\s+5\s/);
  expect(shown.stdout).toMatch(/TOKENS\/MIN\s+9000\s/);
  expect(shown.stdout).toMatch(/DAILY TOKENS\s+unlimited/);
  const refused = await runCli(['quota', 'set', 'team', id, '--rpm', '-3'], env);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/--rpm must be a whole number/);
  const usage = await runCli(['usage', '--group-by', 'team,model'], env);
  expect({ code: usage.code, stderr: usage.stderr }).toEqual({ code: 0, stderr: '' });
  expect(usage.stdout).toMatch(/^PERIOD\s+TEAM\s+MODEL\s+REQUESTS/);
});

it('runs in cluster mode: policies and counters through Redis', async () => {
  const cluster = await startCorral({ REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379' });
  try {
    const team = await postJson(`${cluster.url}/admin/v1/teams`, { name: 'quota-cluster' });
    const url = `${cluster.url}/admin/v1/teams/${String(team.json!.id)}/quota`;
    expect((await postJson(url, { concurrentRequests: 3, monthlyTokens: 10 }, 'PUT')).status).toBe(200);
    const read = await fetch(url, { headers: cluster.authHeaders });
    expect(await read.json()).toMatchObject({
      concurrentRequests: 3,
      monthlyTokens: 10,
      usage: { concurrent: 0 },
    });
  } finally {
    await cluster.stop();
  }
});
