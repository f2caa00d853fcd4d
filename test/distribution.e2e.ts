/**
 * Distribution between two real Corral processes on loopback: node A serves its models over the
 * OCI registry API (/v2); node B pulls from it (API and CLI), through a TCP proxy that can cut the
 * transfer or corrupt it, and accepts a push from A. Keys are real: each node reads the other's key
 * from CORRAL_REGISTRY_KEY_FILE, written once both are up.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildScriptedModel, buildTinyLlama } from '@corral/registry';
import {
  buildTinyModels,
  importModel,
  postJson,
  runCli,
  SCRIPT,
  SCRIPT_TEXT,
  startCorral,
  type CorralProcess,
} from './support';
import { spawn } from 'node:child_process';
import { CLI_ENTRY } from './support';
import { ConnectionSink, freePort, TcpProxy } from './distribution-proxy';

jest.setTimeout(180_000);

interface Progress {
  status?: string;
  digest?: string;
  total?: number;
  completed?: number;
  error?: string;
}

let a: CorralProcess;
let b: CorralProcess;
let proxy: TcpProxy;
let sink: ConnectionSink;
let redirector: http.Server;
let work: string;
let hostA: string;
let hostP: string;
let hostR: string;
let bigDigest: string;
let bigSize: number;
let envB: NodeJS.ProcessEnv;
/** Data directories of restarted nodes (started with a given home, so their stop() keeps it). */
const keptHomes: string[] = [];
let big2Digest: string;
let big2Size: number;

const sha256 = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function pull(node: CorralProcess, body: Record<string, unknown>) {
  const res = await fetch(`${node.url}/api/pull`, {
    method: 'POST',
    headers: node.authHeaders,
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const lines = text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Progress);
  return { status: res.status, lines, text };
}

function blobFiles(node: CorralProcess): string[] {
  return readdirSync(join(node.home, 'models', 'blobs')).filter((n) => n.startsWith('sha256-'));
}

async function tags(node: CorralProcess): Promise<{ name: string; digest: string }[]> {
  return (await postJson(`${node.url}/api/tags`, undefined, 'GET')).json!.models as {
    name: string;
    digest: string;
  }[];
}

async function chat(node: CorralProcess, model: string) {
  return postJson(`${node.url}/api/chat`, {
    model,
    messages: [{ role: 'user', content: 'hi' }],
    stream: false,
  });
}

async function newKey(node: CorralProcess, scopes: string[], models?: string[]): Promise<string> {
  const team = await postJson(`${node.url}/admin/v1/teams`, {
    name: `t-${Math.random().toString(36).slice(2, 8)}`,
  });
  const key = await postJson(`${node.url}/admin/v1/keys`, {
    team_id: team.json!.id,
    name: 'k',
    scopes,
    ...(models ? { models } : {}),
  });
  if (key.status !== 201) throw new Error(`key create failed: ${key.text}`);
  return key.json!.key as string;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'corral-dist-'));
  const models = await buildTinyModels();
  const big = join(work, 'big.gguf');
  // ~21 MB of F32 weights: big enough for 1 MiB ranged parts, four at a time.
  await buildTinyLlama(big, { name: 'corral-big', embeddingLength: 512, blockCount: 2 });
  const bigBytes = readFileSync(big);
  bigDigest = sha256(bigBytes);
  bigSize = bigBytes.length;
  const big2 = join(work, 'big2.gguf');
  await buildTinyLlama(big2, { name: 'corral-big-2', embeddingLength: 512, blockCount: 2, seed: 7 });
  const big2Bytes = readFileSync(big2);
  big2Digest = sha256(big2Bytes);
  big2Size = big2Bytes.length;
  const pushable = join(work, 'pushable.gguf');
  await buildScriptedModel(pushable, { script: SCRIPT, name: 'corral-pushable' });

  const [portA, portB] = [await freePort(), await freePort()];
  proxy = new TcpProxy(portA);
  const portP = await proxy.start();
  sink = new ConnectionSink();
  const portS = await sink.start();
  // An allow-listed registry that redirects every request to the (not allow-listed) sink.
  redirector = http.createServer((req, res) => {
    res.writeHead(307, { location: `http://127.0.0.1:${portS}${req.url ?? '/'}` }).end();
  });
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  const portR = (redirector.address() as { port: number }).port;
  hostA = `127.0.0.1:${portA}`;
  hostP = `127.0.0.1:${portP}`;
  hostR = `127.0.0.1:${portR}`;

  a = await startCorral({
    CORRAL_HOST: hostA,
    CORRAL_REGISTRY_ALLOW: `http://127.0.0.1:${portB}`,
    CORRAL_REGISTRY_KEY_FILE: join(work, 'key-for-b'),
  });
  envB = {
    CORRAL_HOST: `127.0.0.1:${portB}`,
    CORRAL_REGISTRY_ALLOW: `http://${hostA},http://${hostP},http://${hostR},127.0.0.1:${portS + 1}`,
    CORRAL_REGISTRY_KEY_FILE: join(work, 'key-for-a'),
    CORRAL_PULL_PART_SIZE: String(1024 * 1024),
    CORRAL_PULL_CONCURRENCY: '4',
  };
  b = await startCorral(envB);
  writeFileSync(join(work, 'key-for-a'), a.key);
  writeFileSync(join(work, 'key-for-b'), b.key);

  await importModel(a.url, 'tiny', models.scripted);
  await importModel(a.url, 'big', big);
  await importModel(a.url, 'pushable', pushable);
  await importModel(a.url, 'big2', big2);
  const twice = join(work, 'twice.gguf');
  await buildTinyLlama(twice, { name: 'corral-twice', embeddingLength: 256, seed: 3 });
  await importModel(a.url, 'twice', twice);
  expect((await postJson(`${a.url}/api/copy`, { source: 'tiny', destination: 'team/tiny:v2' })).status).toBe(
    200,
  );
}, 180_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await proxy?.stop();
  await sink?.stop();
  await new Promise((r) => redirector?.close(r));
  if (work) rmSync(work, { recursive: true, force: true });
  for (const dir of keptHomes) rmSync(dir, { recursive: true, force: true });
});

describe('the registry API of node A (/v2)', () => {
  const get = (path: string, headers: Record<string, string> = a.authHeaders, method = 'GET') =>
    fetch(`${a.url}${path}`, { method, headers });

  it('answers the version check, and serves manifests with their digest and media type', async () => {
    const v = await get('/v2/');
    expect(v.status).toBe(200);
    expect(v.headers.get('docker-distribution-api-version')).toBe('registry/2.0');

    const m = await get('/v2/library/tiny/manifests/latest');
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const bytes = Buffer.from(await m.arrayBuffer());
    expect(m.headers.get('docker-content-digest')).toBe(sha256(bytes));
    const listed = (await tags(a)).find((t) => t.name === 'tiny:latest');
    expect(`sha256:${listed!.digest}`).toBe(sha256(bytes));
    const head = await get('/v2/library/tiny/manifests/latest', a.authHeaders, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));

    const byDigest = await get(`/v2/library/tiny/manifests/sha256:${'a'.repeat(64)}`);
    expect(byDigest.status).toBe(404);

    const unknown = await get('/v2/library/nope/manifests/latest');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      errors: [{ code: 'MANIFEST_UNKNOWN', message: expect.any(String) }],
    });
  });

  it('serves blobs whole and by byte range, and refuses ranges past the end', async () => {
    const whole = await get(`/v2/library/big/blobs/${bigDigest}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('docker-content-digest')).toBe(bigDigest);
    const body = Buffer.from(await whole.arrayBuffer());
    expect(body.length).toBe(bigSize);
    expect(sha256(body)).toBe(bigDigest);

    const part = await get(`/v2/library/big/blobs/${bigDigest}`, {
      ...a.authHeaders,
      range: 'bytes=100-199',
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${bigSize}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(100, 200));

    const tail = await get(`/v2/library/big/blobs/${bigDigest}`, { ...a.authHeaders, range: 'bytes=-10' });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(body.subarray(bigSize - 10));

    const past = await get(`/v2/library/big/blobs/${bigDigest}`, {
      ...a.authHeaders,
      range: `bytes=${bigSize}-`,
    });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${bigSize}`);

    // A blob is reachable only through a repository whose manifest uses it.
    const head = await get(`/v2/library/big/blobs/${bigDigest}`, a.authHeaders, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bigSize));

    const elsewhere = await get(`/v2/library/tiny/blobs/${bigDigest}`);
    expect(elsewhere.status).toBe(404);
    expect(((await elsewhere.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('BLOB_UNKNOWN');
  });

  it('needs a key with models:read, and keeps a key to the models it may use', async () => {
    const none = await get('/v2/library/tiny/manifests/latest', {});
    expect(none.status).toBe(401);
    expect(((await none.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('UNAUTHORIZED');
    expect((await get('/v2/', {})).status).toBe(401);

    const inferenceOnly = { Authorization: `Bearer ${await newKey(a, ['inference'])}` };
    const denied = await get('/v2/library/tiny/manifests/latest', inferenceOnly);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({
      errors: [{ code: 'DENIED', message: expect.stringMatching(/models:read/) }],
    });

    const onlyBig = { Authorization: `Bearer ${await newKey(a, ['models:read'], ['big'])}` };
    expect((await get('/v2/library/big/manifests/latest', onlyBig)).status).toBe(200);
    const other = await get('/v2/library/tiny/manifests/latest', onlyBig);
    expect(other.status).toBe(403);
    expect(((await other.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DENIED');
    const manifest = (await (await get('/v2/library/tiny/manifests/latest')).json()) as {
      layers: { digest: string }[];
    };
    expect((await get(`/v2/library/tiny/blobs/${manifest.layers[0]!.digest}`, onlyBig)).status).toBe(403);
  });

  it('refuses names that would leave the models directory', async () => {
    for (const path of [
      '/v2/..%2F..%2Fetc/passwd/manifests/latest',
      '/v2/library/..%2F..%2Fx/manifests/latest',
    ]) {
      const r = await get(path);
      expect(r.status).toBe(400);
      expect(((await r.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('NAME_INVALID');
    }
    const r = await get('/v2/library/tiny/manifests/..');
    expect([400, 404]).toContain(r.status);
  });
});

describe('pulling into node B', () => {
  it('pulls by API with Ollama progress messages, then answers /api/chat with the model', async () => {
    const r = await pull(b, { model: `${hostA}/library/tiny`, insecure: true });
    expect(r.status).toBe(200);
    const statuses = r.lines.map((l) => l.status);
    expect(statuses[0]).toBe('pulling manifest');
    expect(statuses.slice(-3)).toEqual(['verifying sha256 digest', 'writing manifest', 'success']);
    const layer = r.lines.find((l) => l.digest && l.total! > 1000)!;
    expect(layer.status).toBe(`pulling ${layer.digest!.slice(7, 19)}`);
    expect(r.lines.filter((l) => l.digest === layer.digest).at(-1)!.completed).toBe(layer.total);

    const name = `${hostA}/library/tiny:latest`;
    const aDigest = (await tags(a)).find((t) => t.name === 'tiny:latest')!.digest;
    expect((await tags(b)).find((t) => t.name === name)?.digest).toBe(aDigest);
    const answer = await chat(b, `${hostA}/library/tiny`);
    expect(answer.status).toBe(200);
    expect((answer.json!.message as { content: string }).content).toBe(SCRIPT_TEXT);

    // Again, with stream:false: everything is there already; one success object.
    const again = await postJson(`${b.url}/api/pull`, { model: name, insecure: true, stream: false });
    expect(again.json).toEqual({ status: 'success' });
  });

  it('pulls with the corral CLI', async () => {
    const r = await runCli(['pull', `${hostA}/team/tiny:v2`], { CORRAL_HOST: b.url, CORRAL_API_KEY: b.key });
    expect(r.stderr).toMatch(/pulling manifest/);
    expect(r.stderr).toMatch(/writing manifest\nsuccess/);
    expect(r.code).toBe(0);
    const answer = await chat(b, `${hostA}/team/tiny:v2`);
    expect((answer.json!.message as { content: string }).content).toBe(SCRIPT_TEXT);
  });

  it('refuses a registry that is not allow-listed before connecting to it', async () => {
    const r = await postJson(`${b.url}/api/pull`, {
      model: `127.0.0.1:${sink.port}/library/tiny`,
      insecure: true,
    });
    expect(r.status).toBe(403);
    expect(r.json!.error).toMatch(/not allowed.*CORRAL_REGISTRY_ALLOW/);
    expect(sink.connections).toBe(0);
    const cli = await runCli(['pull', `127.0.0.1:${sink.port}/library/tiny`], {
      CORRAL_HOST: b.url,
      CORRAL_API_KEY: b.key,
    });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/Error: pulling from '127\.0\.0\.1:\d+' is not allowed/);
    // insecure only for sources listed as http://
    const https = await postJson(`${b.url}/api/pull`, {
      model: `127.0.0.1:${sink.port + 1}/library/tiny`,
      insecure: true,
    });
    expect(https.status).toBe(403);
    expect(https.json!.error).toMatch(/insecure/);
    // Ollama's default registry is just another host that is not on the list.
    expect((await postJson(`${b.url}/api/pull`, { model: 'llama3' })).status).toBe(403);
    expect(sink.connections).toBe(0);
  });

  it('reports a model the source does not have, and a source that refuses the key', async () => {
    const missing = await postJson(`${b.url}/api/pull`, { model: `${hostA}/library/nope`, insecure: true });
    expect(missing.status).toBe(404);
    expect(missing.json!.error).toMatch(/MANIFEST_UNKNOWN/);
    const keyFile = join(work, 'key-for-a');
    writeFileSync(keyFile, 'crl_not_a_real_key');
    try {
      const refused = await postJson(`${b.url}/api/pull`, { model: `${hostA}/library/tiny`, insecure: true });
      expect(refused.status).toBe(403);
      expect(refused.json!.error).toMatch(/401 UNAUTHORIZED/);
    } finally {
      writeFileSync(keyFile, a.key);
    }
  });

  it('does not follow an allow-listed registry redirecting to another host', async () => {
    const r = await postJson(`${b.url}/api/pull`, { model: `${hostR}/library/tiny`, insecure: true });
    expect(r.status).toBe(403);
    expect(r.json!.error).toMatch(/another host/);
    expect(sink.connections).toBe(0);
  });

  it('refuses names with path traversal or absolute paths', async () => {
    for (const model of [
      `${hostA}/../../etc/passwd`,
      `${hostA}/library/..`,
      '/etc/passwd',
      `${hostA}/library/tiny:../x`,
    ]) {
      const r = await postJson(`${b.url}/api/pull`, { model, insecure: true });
      expect(r.status).toBe(400);
      expect(r.json!.error).toMatch(/invalid model name/);
    }
  });

  it('lets two pulls of one model run at once: both succeed, one blob, no partial left', async () => {
    const before = blobFiles(b).length;
    const [x, y] = await Promise.all([
      pull(b, { model: `${hostA}/library/twice`, insecure: true }),
      pull(b, { model: `${hostA}/library/twice:latest`, insecure: true }),
    ]);
    expect(x.lines.at(-1)).toEqual({ status: 'success' });
    expect(y.lines.at(-1)).toEqual({ status: 'success' });
    expect(blobFiles(b).length).toBe(before + 2); // the model and its config
    expect(readdirSync(join(b.home, 'models', 'partial')).filter((n) => n.endsWith('.partial'))).toEqual([]);
    const answer = await postJson(`${b.url}/api/generate`, {
      model: `${hostA}/library/twice`,
      prompt: 'hi',
      stream: false,
      options: { num_predict: 3 },
    });
    expect(answer.status).toBe(200);
  });

  it('refuses a blob the source corrupted, and stores nothing', async () => {
    const before = blobFiles(b);
    proxy.reset({ kind: 'flip' });
    const r = await pull(b, { model: `${hostP}/library/big`, insecure: true });
    expect(r.lines.at(-1)!.error).toMatch(/failed verification.*nothing was stored/);
    expect(blobFiles(b)).toEqual(before);
    expect((await tags(b)).some((t) => t.name.includes('big'))).toBe(false);
    expect(existsSync(join(b.home, 'models', 'partial', `${bigDigest.replace(':', '-')}.partial`))).toBe(
      false,
    );
  });

  it('resumes an interrupted pull: the second run fetches only what was missing, and it verifies', async () => {
    const cutAt = Math.floor(bigSize * 0.4);
    proxy.reset({ kind: 'cut', afterBytes: cutAt });
    const first = await pull(b, { model: `${hostP}/library/big`, insecure: true });
    expect(first.lines.at(-1)!.error).toMatch(/broke off|ended early|cannot reach/);
    const partial = join(b.home, 'models', 'partial', `${bigDigest.replace(':', '-')}`);
    expect(existsSync(`${partial}.partial`)).toBe(true);
    const saved = JSON.parse(readFileSync(`${partial}.json`, 'utf8')) as { parts: { completed: number }[] };
    const kept = saved.parts.reduce((n, p) => n + p.completed, 0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(bigSize);
    expect((await tags(b)).some((t) => t.name.includes('big'))).toBe(false);

    proxy.reset({ kind: 'pass' });
    const second = await pull(b, { model: `${hostP}/library/big`, insecure: true });
    expect(second.lines.at(-1)).toEqual({ status: 'success' });
    // The first progress line of the big layer starts from what was kept.
    const firstBig = second.lines.find((l) => l.digest === bigDigest)!;
    expect(firstBig.completed).toBe(kept);
    expect(proxy.downstreamBytes).toBeLessThan(bigSize - kept + 256 * 1024);
    expect(proxy.downstreamBytes).toBeGreaterThanOrEqual(bigSize - kept);
    const stored = readFileSync(join(b.home, 'models', 'blobs', bigDigest.replace(':', '-')));
    expect(sha256(stored)).toBe(bigDigest);
    expect(existsSync(`${partial}.partial`)).toBe(false);
    expect((await tags(b)).some((t) => t.name === `${hostP}/library/big:latest`)).toBe(true);
    const show = await postJson(`${b.url}/api/show`, { model: `${hostP}/library/big` });
    expect(show.status).toBe(200);
  });
});

describe('interrupting `corral pull`', () => {
  it('keeps the partial download when the CLI is killed, and the next pull continues it', async () => {
    const stallAt = Math.floor(big2Size * 0.3);
    proxy.reset({ kind: 'stall', afterBytes: stallAt });
    const env = { ...process.env, CORRAL_HOST: b.url, CORRAL_API_KEY: b.key };
    const cli = spawn(process.execPath, [CLI_ENTRY, 'pull', `${hostP}/library/big2`], {
      env,
      stdio: 'ignore',
    });
    const exited = new Promise((r) => cli.once('exit', r));
    for (let i = 0; i < 600 && !proxy.stalled; i++) await new Promise((r) => setTimeout(r, 100));
    expect(proxy.stalled).toBe(true);
    // Let B drain what already reached its sockets, then kill the client mid-download.
    await new Promise((r) => setTimeout(r, 500));
    cli.kill('SIGKILL');
    await exited;
    const got = proxy.downstreamBytes;

    // The gateway sees the client go away and stops the download; the rerun waits for that, then
    // fetches only the rest.
    proxy.reset({ kind: 'pass' });
    const again = await runCli(['pull', `${hostP}/library/big2`], {
      CORRAL_HOST: b.url,
      CORRAL_API_KEY: b.key,
    });
    expect(again.stderr).toMatch(/success/);
    expect(again.code).toBe(0);
    // Most of what came through before the kill is reused (bytes still in flight may be lost).
    expect(got).toBeGreaterThan(big2Size * 0.25);
    expect(proxy.downstreamBytes).toBeLessThan(big2Size - got / 2);
    const stored = readFileSync(join(b.home, 'models', 'blobs', big2Digest.replace(':', '-')));
    expect(sha256(stored)).toBe(big2Digest);
  });
});

describe('killing the gateway mid-pull', () => {
  it('keeps the partial download across a restart, and the next pull continues it', async () => {
    // big2 is on B from the test above: delete it (and its blobs) to pull it again.
    expect((await postJson(`${b.url}/api/delete`, { model: `${hostP}/library/big2` }, 'DELETE')).status).toBe(
      200,
    );
    expect(blobFiles(b)).not.toContain(big2Digest.replace(':', '-'));
    proxy.reset({ kind: 'stall', afterBytes: Math.floor(big2Size * 0.5) });
    const interrupted = pull(b, { model: `${hostP}/library/big2`, insecure: true }).catch((e: Error) => e);
    for (let i = 0; i < 600 && !proxy.stalled; i++) await new Promise((r) => setTimeout(r, 100));
    expect(proxy.stalled).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    const exited = new Promise((r) => b.proc.once('exit', r));
    b.proc.kill('SIGKILL');
    await exited;
    await interrupted;
    const got = proxy.downstreamBytes;

    keptHomes.push(b.home);
    b = await startCorral(envB, b.home);
    proxy.reset({ kind: 'pass' });
    const again = await pull(b, { model: `${hostP}/library/big2`, insecure: true });
    expect(again.lines.at(-1)).toEqual({ status: 'success' });
    expect(again.lines.find((l) => l.digest === big2Digest)!.completed).toBeGreaterThan(0);
    expect(proxy.downstreamBytes).toBeLessThan(big2Size - got / 2);
    const stored = readFileSync(join(b.home, 'models', 'blobs', big2Digest.replace(':', '-')));
    expect(sha256(stored)).toBe(big2Digest);
  });
});

describe('pushing from node A to node B', () => {
  it('pushes with Ollama progress messages, skipping blobs B has, and B then serves the model', async () => {
    const target = `127.0.0.1:${new URL(b.url).port}/team/pushed:v1`;
    expect((await postJson(`${a.url}/api/copy`, { source: 'pushable', destination: target })).status).toBe(
      200,
    );
    const res = await fetch(`${a.url}/api/push`, {
      method: 'POST',
      headers: a.authHeaders,
      body: JSON.stringify({ model: target, insecure: true }),
    });
    const lines = (await res.text())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Progress);
    expect(lines[0]).toEqual({ status: 'retrieving manifest' });
    expect(lines.slice(-2)).toEqual([{ status: 'pushing manifest' }, { status: 'success' }]);
    const model = lines.filter((l) => l.total !== undefined && l.total > 10_000);
    expect(model[0]!.status).toMatch(/^pushing [0-9a-f]{12}$/);
    expect(model.at(-1)!.completed).toBe(model[0]!.total);

    const answer = await chat(b, 'team/pushed:v1');
    expect((answer.json!.message as { content: string }).content).toBe(SCRIPT_TEXT);
    const served = await fetch(`${b.url}/v2/team/pushed/manifests/v1`, { headers: b.authHeaders });
    expect(served.status).toBe(200);

    // Models entering and leaving a node are audit events naming the model.
    const audited = async (node: CorralProcess, action: string) => {
      for (let i = 0; i < 50; i++) {
        const r = await postJson(`${node.url}/admin/v1/audit?action=${action}`, undefined, 'GET');
        const events = (r.json?.data ?? []) as { model?: string; outcome: { status: number } }[];
        if (events.length) return events;
        await new Promise((res) => setTimeout(res, 200));
      }
      return [];
    };
    expect((await audited(a, 'model.push'))[0]).toMatchObject({ model: target, outcome: { status: 200 } });
    expect((await audited(b, 'model.push_received'))[0]).toMatchObject({
      model: 'team/pushed:v1',
      outcome: { status: 201 },
    });
    expect((await audited(b, 'model.pull')).length).toBeGreaterThan(0);

    // The CLI, pushing the same model again: every blob is already there.
    const cli = await runCli(['push', target], { CORRAL_HOST: a.url, CORRAL_API_KEY: a.key });
    expect(cli.code).toBe(0);
    expect(cli.stderr).toMatch(/pushing manifest\nsuccess/);
  });

  it('verifies uploads and manifests on the receiving node', async () => {
    const at = (path: string, init: RequestInit = {}, key = b.key) =>
      fetch(`${b.url}${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${key}`, ...(init.headers ?? {}) },
      });
    const data = Buffer.from('hello corral registry');
    const digest = sha256(data);

    // Wrong digest: refused, nothing stored.
    const open1 = await at('/v2/team/x/blobs/uploads/', { method: 'POST' });
    expect(open1.status).toBe(202);
    const loc1 = open1.headers.get('location')!;
    expect(
      (await at(loc1, { method: 'PATCH', body: data, headers: { 'content-range': `0-${data.length - 1}` } }))
        .status,
    ).toBe(202);
    const bad = await at(`${loc1}?digest=sha256:${'0'.repeat(64)}`, { method: 'PUT' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID');
    expect((await at(loc1, { method: 'GET' })).status).toBe(404);

    // A chunk that does not continue the upload.
    const open2 = await at('/v2/team/x/blobs/uploads/', { method: 'POST' });
    const loc2 = open2.headers.get('location')!;
    expect(
      (await at(loc2, { method: 'PATCH', body: data, headers: { 'content-range': '5-25' } })).status,
    ).toBe(416);

    // A manifest naming a blob that is not there.
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      layers: [{ mediaType: 'application/vnd.ollama.image.model', digest, size: data.length }],
    });
    const early = await at('/v2/team/x/manifests/latest', { method: 'PUT', body: manifest });
    expect(early.status).toBe(400);
    expect(((await early.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe(
      'MANIFEST_BLOB_UNKNOWN',
    );

    // Monolithic upload, then the manifest is accepted.
    const mono = await at(`/v2/team/x/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
    expect(mono.status).toBe(201);
    expect(mono.headers.get('docker-content-digest')).toBe(digest);
    expect((await at(`/v2/team/x/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);
    expect((await at('/v2/team/x/manifests/latest', { method: 'PUT', body: manifest })).status).toBe(201);

    // Pushing needs models:write.
    const reader = await newKey(b, ['models:read']);
    const refused = await at('/v2/team/x/blobs/uploads/', { method: 'POST' }, reader);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DENIED');
  });
});
