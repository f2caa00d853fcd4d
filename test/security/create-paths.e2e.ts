/**
 * /api/create must not read the gateway's files for an API caller: the legacy `path` field and
 * `FROM`/`ADAPTER` paths in `modelfile` are refused (the same 400 whether the path exists or not,
 * never quoting a byte of it), unless the operator names import directories (CORRAL_IMPORT_DIRS),
 * and then only real paths inside them are read. Also: unreferenced blobs and stale upload sessions
 * are collected after the grace period, and a models directory that cannot be written answers 503.
 * Every attack runs with a team owner's models:write key against the real built server.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildTinyModels, startCorral, type CorralProcess, type TinyModels } from '../support';

jest.setTimeout(240_000);

interface Reply {
  status: number;
  text: string;
  error: string;
}

async function ownerKeyOf(corral: CorralProcess, team: string): Promise<string> {
  const admin = (path: string, body: unknown) =>
    fetch(corral.url + path, {
      method: 'POST',
      headers: { ...corral.authHeaders, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, string> }));
  const teamId = (await admin('/admin/v1/teams', { name: team })).json.id!;
  const user = await admin('/admin/v1/users', {
    email: `${team}@example.com`,
    password: 'quartz-lantern-77',
  });
  expect(
    (await admin(`/admin/v1/teams/${teamId}/members`, { user_id: user.json.id, role: 'owner' })).status,
  ).toBe(201);
  const key = await admin('/admin/v1/keys', {
    team_id: teamId,
    user_id: user.json.id,
    name: 'importer',
    scopes: ['models:write', 'models:read', 'inference'],
  });
  expect(key.status).toBe(201);
  return key.json.key!;
}

function creator(corral: CorralProcess, key: string) {
  return async (body: Record<string, unknown>): Promise<Reply> => {
    const r = await fetch(`${corral.url}/api/create`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ stream: false, ...body }),
    });
    const text = await r.text();
    let error = '';
    try {
      error = String((JSON.parse(text) as { error?: unknown }).error ?? '');
    } catch {
      /* not JSON */
    }
    return { status: r.status, text, error };
  };
}

async function upload(corral: CorralProcess, data: Buffer): Promise<string> {
  const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
  const r = await fetch(`${corral.url}/api/blobs/${digest}`, {
    method: 'POST',
    body: data,
    headers: corral.authHeaders,
  });
  expect([200, 201]).toContain(r.status);
  return digest;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** Uploads a GGUF and creates a model from it by digest, as Ollama's client does. */
async function importModel(corral: CorralProcess, name: string, file: string): Promise<string> {
  const digest = await upload(corral, readFileSync(file));
  const r = await fetch(`${corral.url}/api/create`, {
    method: 'POST',
    headers: { ...corral.authHeaders, ...JSON_TYPE },
    body: JSON.stringify({ model: name, files: { 'model.gguf': digest }, stream: false }),
  });
  expect(r.status).toBe(200);
  return digest;
}

const blobFile = (corral: CorralProcess, digest: string) =>
  join(corral.home, 'models/blobs', digest.replace(':', '-'));

let models: TinyModels;
beforeAll(async () => {
  models = await buildTinyModels();
});

describe('create refuses server paths (no CORRAL_IMPORT_DIRS)', () => {
  let corral: CorralProcess;
  let create: ReturnType<typeof creator>;
  let secret: string;
  let outside: string;
  const bodies: string[] = [];
  const call = async (body: Record<string, unknown>) => {
    const r = await create(body);
    bodies.push(r.text);
    return r;
  };

  beforeAll(async () => {
    corral = await startCorral({ CORRAL_BLOB_GC_GRACE: '2s', CORRAL_BLOB_GC_INTERVAL: '500ms' });
    secret = readFileSync(join(corral.home, 'admin.key'), 'utf8').trim();
    create = creator(corral, await ownerKeyOf(corral, 'importers'));
    await importModel(corral, 'scripted', models.scripted);
    outside = mkdtempSync(join(tmpdir(), 'corral-outside-'));
  });
  afterAll(async () => {
    await corral?.stop();
    // Nothing any refusal answered carries the admin key, the environment or /etc/passwd.
    expect(bodies.length).toBeGreaterThan(8);
    for (const b of bodies) {
      expect(b).not.toContain(secret);
      expect(b).not.toMatch(/root:|PATH=|CORRAL_HOME=|GGUF|magic/i);
    }
  });

  it.each([
    ['admin.key', () => join(corral.home, 'admin.key')],
    ['/proc/self/environ', () => '/proc/self/environ'],
    ['/etc/passwd', () => '/etc/passwd'],
    ['a missing file', () => '/nonexistent/Modelfile'],
  ])('refuses path: %s with one message', async (_what, p) => {
    const r = await call({ model: 'stolen', path: p() });
    expect(r.status).toBe(400);
    expect(r.error).toMatch(/server/);
    expect(r.error).toMatch(/\/api\/blobs/);
    const missing = await call({ model: 'stolen', path: '/nonexistent/Modelfile' });
    expect(r.text).toBe(missing.text);
  });

  it('refuses path: /dev/zero at once, without reading it', async () => {
    const t0 = Date.now();
    const r = await call({ model: 'zero', path: '/dev/zero' });
    expect(r.status).toBe(400);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('refuses FROM and ADAPTER paths, existing or not, with the same message', async () => {
    const gguf = join(outside, 'model.gguf');
    writeFileSync(gguf, readFileSync(models.scripted));
    const forms = [
      `FROM ${gguf}`,
      `FROM ${join(outside, 'missing.gguf')}`,
      'FROM /etc/passwd',
      'FROM /etc/no-such-file',
      'FROM ../../x',
      `FROM ${corral.home}/admin.key`,
    ];
    const replies = [];
    for (const modelfile of forms) replies.push(await call({ model: 'outside', modelfile }));
    for (const r of replies) expect(r.status).toBe(400);
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    expect(replies[0]!.error).toMatch(/^FROM names a path on the server/);

    const adapters = [];
    for (const a of ['/etc/passwd', '/etc/no-such-file'])
      adapters.push(await call({ model: 'outside', modelfile: `FROM scripted\nADAPTER ${a}` }));
    for (const r of adapters) expect(r.status).toBe(400);
    expect(adapters[0]!.text).toBe(adapters[1]!.text);
    expect(adapters[0]!.error).toMatch(/^ADAPTER names a path on the server/);

    const tags = (await (await fetch(`${corral.url}/api/tags`, { headers: corral.authHeaders })).json()) as {
      models: { name: string }[];
    };
    expect(tags.models.map((m) => m.name)).not.toContain('outside:latest');
  });

  it('still takes a FROM that names a model, and uploaded files', async () => {
    expect((await call({ model: 'derived', modelfile: 'FROM scripted\nSYSTEM be brief' })).status).toBe(200);
    const digest = await upload(corral, readFileSync(models.scripted));
    expect((await call({ model: 'uploaded', files: { 'scripted.gguf': digest } })).status).toBe(200);
  });

  it('audits a refused create with what it asked for, not what the file holds', async () => {
    const r = await fetch(`${corral.url}/api/create`, {
      method: 'POST',
      headers: { ...(await ownerHeaders()), 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'audited-steal', path: '/etc/passwd', stream: false }),
    });
    expect(r.status).toBe(400);
    const requestId = r.headers.get('x-request-id');
    const until = Date.now() + 20_000;
    for (;;) {
      const page = await fetch(`${corral.url}/admin/v1/audit?action=model.create&limit=1000`, {
        headers: corral.authHeaders,
      });
      const events = ((await page.json()) as { data: Record<string, unknown>[] }).data;
      const e = events.find((x) => x.request_id === requestId);
      if (e) {
        expect(e.outcome).toMatchObject({ status: 400 });
        expect(e.details).toMatchObject({ model: 'audited-steal', path: '/etc/passwd' });
        expect(JSON.stringify(e)).not.toMatch(/root:/);
        break;
      }
      if (Date.now() > until) throw new Error('no audit event for the refused create');
      await sleep(200);
    }
  });
  let ownerHeadersCache: Record<string, string> | undefined;
  async function ownerHeaders() {
    ownerHeadersCache ??= { Authorization: `Bearer ${await ownerKeyOf(corral, 'auditees')}` };
    return ownerHeadersCache;
  }

  it('collects an unreferenced blob after the grace period, keeps referenced ones', async () => {
    const orphan = await upload(corral, Buffer.from(`never used ${Date.now()}`));
    expect(existsSync(blobFile(corral, orphan))).toBe(true);
    const used = await importModel(corral, 'kept', models.random);
    // Made to look old: the grace is about age, and a referenced blob is never collected at any age.
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(blobFile(corral, used), old, old);
    const until = Date.now() + 15_000;
    while (existsSync(blobFile(corral, orphan)) && Date.now() < until) await sleep(200);
    expect(existsSync(blobFile(corral, orphan))).toBe(false);
    expect(existsSync(blobFile(corral, used))).toBe(true);
    const r = await fetch(`${corral.url}/api/generate`, {
      method: 'POST',
      headers: { ...corral.authHeaders, ...JSON_TYPE },
      body: JSON.stringify({ model: 'kept', prompt: 'hi', stream: false, options: { num_predict: 2 } }),
    });
    expect(r.status).toBe(200);
    // No tombstone or temp file is left behind.
    expect(readdirSync(join(corral.home, 'models/blobs')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('abandons a stale upload session', async () => {
    const start = await fetch(`${corral.url}/v2/library/pushed/blobs/uploads/`, {
      method: 'POST',
      headers: corral.authHeaders,
    });
    expect(start.status).toBe(202);
    const id = start.headers.get('docker-upload-uuid')!;
    const file = join(corral.home, 'models/uploads', id);
    expect(existsSync(file)).toBe(true);
    const until = Date.now() + 15_000;
    while (existsSync(file) && Date.now() < until) await sleep(200);
    expect(existsSync(file)).toBe(false);
    const status = await fetch(`${corral.url}/v2/library/pushed/blobs/uploads/${id}`, {
      headers: corral.authHeaders,
    });
    expect(status.status).toBe(404);
  });
});

describe('create with CORRAL_IMPORT_DIRS', () => {
  let corral: CorralProcess;
  let create: ReturnType<typeof creator>;
  let importDir: string;
  let outside: string;

  beforeAll(async () => {
    importDir = mkdtempSync(join(tmpdir(), 'corral-import-'));
    outside = mkdtempSync(join(tmpdir(), 'corral-outside-'));
    writeFileSync(join(importDir, 'scripted.gguf'), readFileSync(models.scripted));
    writeFileSync(join(outside, 'random.gguf'), readFileSync(models.random));
    writeFileSync(join(outside, 'Modelfile'), `FROM ${join(importDir, 'scripted.gguf')}\n`);
    symlinkSync(join(outside, 'random.gguf'), join(importDir, 'escape.gguf'));
    symlinkSync(outside, join(importDir, 'escape-dir'));
    mkdirSync(join(importDir, 'sub'));
    writeFileSync(join(importDir, 'sub', 'Modelfile'), 'FROM ../scripted.gguf\nSYSTEM imported\n');
    corral = await startCorral({ CORRAL_IMPORT_DIRS: importDir });
    create = creator(corral, await ownerKeyOf(corral, 'operators'));
  });
  afterAll(() => corral?.stop());

  it('imports a GGUF inside an import directory', async () => {
    const r = await create({ model: 'inside', modelfile: `FROM ${join(importDir, 'scripted.gguf')}` });
    expect(r.status).toBe(200);
    const p = await create({ model: 'inside-path', path: join(importDir, 'sub', 'Modelfile') });
    expect(p.status).toBe(200);
  });

  it('refuses paths outside, symlinks escaping, and missing files alike', async () => {
    const replies = [
      await create({ model: 'out', modelfile: `FROM ${join(outside, 'random.gguf')}` }),
      await create({ model: 'out', modelfile: `FROM ${join(importDir, 'escape.gguf')}` }),
      await create({ model: 'out', modelfile: `FROM ${join(importDir, 'escape-dir', 'random.gguf')}` }),
      await create({ model: 'out', modelfile: `FROM ${join(importDir, '..', 'random.gguf')}` }),
      await create({ model: 'out', modelfile: `FROM ${join(importDir, 'missing.gguf')}` }),
      await create({ model: 'out', modelfile: 'FROM /etc/passwd' }),
    ];
    for (const r of replies) expect(r.status).toBe(400);
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    expect(replies[0]!.error).toMatch(/CORRAL_IMPORT_DIRS/);
    const paths = [
      await create({ model: 'out', path: join(outside, 'Modelfile') }),
      await create({ model: 'out', path: join(importDir, 'escape-dir', 'Modelfile') }),
      await create({ model: 'out', path: '/dev/zero' }),
      await create({ model: 'out', path: join(importDir, 'nope') }),
    ];
    for (const r of paths) expect(r.status).toBe(400);
    expect(new Set(paths.map((r) => r.text)).size).toBe(1);
  });

  it('reads no Modelfile that is not a small regular file, and never quotes it', async () => {
    writeFileSync(join(importDir, 'big'), 'x'.repeat(1024 * 1024 + 1));
    const big = await create({ model: 'big', path: join(importDir, 'big') });
    expect(big.status).toBe(400);
    expect(big.error).toMatch(/larger than/);
    writeFileSync(join(importDir, 'bad'), 'BOGUS-SECRET-LINE hunter2\n');
    const bad = await create({ model: 'bad', path: join(importDir, 'bad') });
    expect(bad.status).toBe(400);
    expect(bad.text).not.toContain('hunter2');
  });
});

/**
 * Tests run as root, which chmod does not stop. sysfs refuses mkdir to everyone (EPERM, or EROFS
 * where /sys is mounted read-only), so a models directory there is one no process can write.
 */
const READ_ONLY_DIR = '/sys/kernel/mm';
const readOnlyUsable = (() => {
  if (!existsSync(READ_ONLY_DIR)) return false;
  try {
    mkdirSync(join(READ_ONLY_DIR, 'corral-probe'));
    return false;
  } catch (e) {
    return ['EPERM', 'EACCES', 'EROFS'].includes((e as NodeJS.ErrnoException).code ?? '');
  }
})();
if (!readOnlyUsable)
  console.log(`${READ_ONLY_DIR} is missing or writable: read-only models directory e2e skipped`);

(readOnlyUsable ? describe : describe.skip)('a models directory that cannot be written', () => {
  let corral: CorralProcess;
  beforeAll(async () => {
    corral = await startCorral({ OLLAMA_MODELS: READ_ONLY_DIR });
  });
  afterAll(() => corral?.stop());

  it('answers 503 with the reason for create, copy, blob upload and pull, and still lists', async () => {
    const post = (path: string, body: unknown) =>
      fetch(corral.url + path, {
        method: 'POST',
        headers: {
          ...corral.authHeaders,
          'content-type': typeof body === 'string' ? 'application/octet-stream' : 'application/json',
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }).then(async (r) => ({
        status: r.status,
        json: (await r.json().catch(() => ({}))) as { error?: string },
      }));
    const digest = 'sha256:' + createHash('sha256').update('abc').digest('hex');
    const replies = [
      await post('/api/create', { model: 'x', modelfile: 'SYSTEM hi\nFROM scripted', stream: false }),
      await post('/api/create', { model: 'x', files: { 'a.gguf': digest }, stream: false }),
      await post(`/api/blobs/${digest}`, 'abc'),
    ];
    for (const r of replies) {
      // A create from a model that is not there may be refused as 404 before anything is written.
      if (r.status === 404) continue;
      expect(r.status).toBe(503);
      expect(r.json.error).toMatch(/^models directory is not writable: /);
    }
    expect(replies[2]!.status).toBe(503);
    const tags = await fetch(`${corral.url}/api/tags`, { headers: corral.authHeaders });
    expect(tags.status).toBe(200);
  });
});
