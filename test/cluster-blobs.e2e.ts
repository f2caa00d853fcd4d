/**
 * Models over HTTP in cluster mode: workers with their own, empty models directories fetch a model's
 * blob from a gateway's OCI blob API (`--gateway` / CORRAL_WORKER_GATEWAY with a models:read key)
 * through a proxy the test controls, which can cut a transfer off midway or corrupt it. The gateway's
 * models directory is its own: nothing is shared but Redis.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { SCRIPT_TEXT, importModel, postJson, startCorral, type CorralProcess } from '@corral/testing';
import { ClusterSuite, clusterDescribe, waitFor, workersOf, type WorkerProcess } from './support/cluster';

jest.setTimeout(240_000);

const maybe = clusterDescribe('cluster-blobs.e2e');

type Mode = 'pass' | 'cut-once' | 'corrupt';

/** An HTTP proxy in front of the gateway that sees every blob request and can spoil the transfer. */
class BlobProxy {
  mode: Mode = 'pass';
  /** `Range` headers of the blob GETs it forwarded. */
  readonly ranges: string[] = [];
  /** Bytes after which 'cut-once' drops the connection. */
  cutAt = 0;
  private server?: Server;
  port = 0;

  constructor(private readonly target: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const target = new URL(this.target);
    this.server = createServer((req, res) => {
      const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
      if (isBlobGet) this.ranges.push(String(req.headers.range ?? ''));
      const mode = isBlobGet ? this.mode : 'pass';
      if (mode === 'cut-once') this.mode = 'pass';
      const up = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          let sent = 0;
          upRes.on('data', (chunk: Buffer) => {
            if (mode === 'corrupt' && sent === 0) {
              chunk = Buffer.from(chunk);
              const at = chunk.length >> 1;
              chunk[at] = chunk[at]! ^ 0xff;
            }
            if (mode === 'cut-once' && sent + chunk.length > this.cutAt) {
              res.write(chunk.subarray(0, this.cutAt - sent));
              sent = this.cutAt;
              // Let the bytes go out, then drop the connection mid-body.
              setTimeout(() => res.socket?.destroy(), 50);
              upRes.destroy();
              return;
            }
            sent += chunk.length;
            res.write(chunk);
          });
          upRes.on('end', () => res.end());
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

async function generate(g: CorralProcess, model: string): Promise<{ status: number; text: string }> {
  const res = await postJson(`${g.url}/api/generate`, { model, prompt: 'x', stream: false });
  return { status: res.status, text: String(res.json?.response ?? res.json?.error ?? res.text) };
}

function blobsIn(dir: string): string[] {
  const d = join(dir, 'blobs');
  return existsSync(d) ? readdirSync(d).filter((n) => n.startsWith('sha256-')) : [];
}

function partialsIn(dir: string): string[] {
  const d = join(dir, 'partial');
  return existsSync(d) ? readdirSync(d) : [];
}

maybe('workers that fetch models from a gateway over HTTP', () => {
  // No shared models directory: the gateway and each worker have their own.
  const cluster = new ClusterSuite();
  const { workers } = cluster;
  let gateway: CorralProcess;
  let proxy: BlobProxy;
  const digests: Record<string, string> = {};

  beforeAll(async () => {
    await cluster.start();
    // Not cluster.gateway(): the workers stop first here, then the gateway and its proxy.
    gateway = await startCorral({
      ...cluster.env,
      CORRAL_CLUSTER: '1',
      OLLAMA_MODELS: cluster.tmp('corral-gateway-models-'),
    });
    digests.scripted = await importModel(gateway.url, 'scripted', cluster.models.scripted);
    digests.random = await importModel(gateway.url, 'random', cluster.models.random);
    proxy = new BlobProxy(gateway.url);
    await proxy.start();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await gateway?.stop();
    await proxy?.stop();
    await cluster.stop();
  });

  /** A worker with an empty models directory of its own, fetching through the proxy with `key`. */
  async function worker(key: string): Promise<{ w: WorkerProcess; dir: string }> {
    const dir = cluster.tmp('corral-worker-models-');
    const w = await cluster.worker({ OLLAMA_MODELS: dir, CORRAL_WORKER_KEY: key }, ['--gateway', proxy.url]);
    await waitFor('the worker to join', async () =>
      (await workersOf(gateway)).some((x) => x.id === w.id) ? true : undefined,
    );
    return { w, dir };
  }

  let teams = 0;
  async function readerKey(models: string[] | null): Promise<string> {
    const team = await postJson(`${gateway.url}/admin/v1/teams`, { name: `workers-${++teams}` });
    expect(team.status).toBe(201);
    const key = await postJson(`${gateway.url}/admin/v1/keys`, {
      team_id: team.json!.id,
      name: 'worker',
      scopes: ['models:read'],
      models,
    });
    expect(key.status).toBe(201);
    return String(key.json!.key);
  }

  it('loads a model only the gateway has, resuming a transfer cut off midway, and answers', async () => {
    const { w, dir } = await worker(await readerKey(null));
    expect(blobsIn(dir)).toEqual([]);
    proxy.mode = 'cut-once';
    proxy.cutAt = 4096;
    proxy.ranges.length = 0;
    expect(await generate(gateway, 'scripted')).toEqual({ status: 200, text: SCRIPT_TEXT });
    // The first request was cut after 4096 bytes; the next one asked only for the rest.
    expect(proxy.ranges.length).toBeGreaterThanOrEqual(2);
    expect(proxy.ranges[0]).toMatch(/^bytes=0-\d+$/);
    expect(proxy.ranges[1]).toMatch(/^bytes=4096-\d+$/);
    expect(w.output()).toMatch(
      /fetching blob sha256:[0-9a-f]{64} .* of scripted:latest from http:\/\/127\.0\.0\.1/,
    );
    // The verified blob is in the worker's own directory; nothing partial is left behind.
    expect(blobsIn(dir)).toHaveLength(1);
    expect(partialsIn(dir)).toEqual([]);
    // Loaded again later (after an unload), it comes from the worker's directory, not the network.
    await postJson(`${gateway.url}/api/generate`, { model: 'scripted', keep_alive: 0 });
    await waitFor('the model unloaded', async () =>
      (await workersOf(gateway)).every((x) => x.models.length === 0) ? true : undefined,
    );
    const before = proxy.ranges.length;
    expect(await generate(gateway, 'scripted')).toEqual({ status: 200, text: SCRIPT_TEXT });
    expect(proxy.ranges.length).toBe(before);
    await w.stop();
    workers.splice(workers.indexOf(w), 1);
  });

  it('refuses a corrupted transfer and a blob its key may not read, storing nothing', async () => {
    // This worker's key may read 'random' only.
    const { dir } = await worker(await readerKey(['random']));
    proxy.mode = 'corrupt';
    const corrupt = await generate(gateway, 'random');
    expect(corrupt.status).toBeGreaterThanOrEqual(500);
    expect(corrupt.text).toMatch(/failed to load model 'random:latest'.*failed verification/);
    expect(blobsIn(dir)).toEqual([]);
    expect(partialsIn(dir)).toEqual([]);

    proxy.mode = 'pass';
    const blocked = await generate(gateway, 'scripted');
    expect(blocked.status).toBeGreaterThanOrEqual(500);
    expect(blocked.text).toMatch(/failed to load model 'scripted:latest'.*refused blob .*403.*models:read/);
    expect(blobsIn(dir)).toEqual([]);

    // A good transfer afterwards works: nothing of the corrupted one lingered.
    expect((await generate(gateway, 'random')).status).toBe(200);
    expect(blobsIn(dir)).toEqual([digests.random!.replace(':', '-')]);
  });
});
