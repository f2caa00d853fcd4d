import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, ConnectError, CorralClient, readNdjson, resolveApiKey } from './client';
import { FakeServer } from '@corral/testing';

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? new TextEncoder().encode(p) : p;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('readNdjson', () => {
  it('reassembles lines split across chunks and splits chunks holding several lines', async () => {
    const got = await collect(readNdjson(chunks('{"a":', '1}\n{"b"', ':2}\n{"c":3}\n', '\n{"d":4}')));
    expect(got).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }, { d: 4 }]);
  });

  it('keeps a multi-byte character that straddles two chunks', async () => {
    const bytes = new TextEncoder().encode('{"t":"héllo ✓"}\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside "é"
    expect(await collect(readNdjson(chunks(bytes.subarray(0, cut), bytes.subarray(cut))))).toEqual([
      { t: 'héllo ✓' },
    ]);
  });

  it('throws the server’s message for an error line mid-stream, after yielding what came before', async () => {
    const seen: unknown[] = [];
    const reading = (async () => {
      for await (const x of readNdjson(
        chunks('{"status":"parsing GGUF"}\n{"error":"out of ', 'memory"}\n{"status":"never"}\n'),
      )) {
        seen.push(x);
      }
    })();
    await expect(reading).rejects.toEqual(new ApiError('out of memory'));
    expect(seen).toEqual([{ status: 'parsing GGUF' }]);
  });

  it('rejects a line that is not JSON', async () => {
    await expect(collect(readNdjson(chunks('<html>oops</html>\n')))).rejects.toThrow(
      /invalid response from server/,
    );
  });
});

describe('CorralClient', () => {
  let server: FakeServer;
  afterEach(() => server?.stop());

  it('turns {"error": ...} answers into ApiError with the status, and sends the API key', async () => {
    server = await new FakeServer((req) =>
      req.path === '/api/show' ? { status: 404, json: { error: "model 'nope' not found" } } : undefined,
    ).start();
    const client = new CorralClient({ baseUrl: server.url, apiKey: 'sk-1' });
    await expect(client.show('nope')).rejects.toEqual(new ApiError("model 'nope' not found", 404));
    expect(server.requests[0]?.headers.authorization).toBe('Bearer sk-1');
    expect(server.requests[0]?.json).toEqual({ model: 'nope' });
  });

  it('streams NDJSON answers, including one split mid-line by the server', async () => {
    server = await new FakeServer(() => ({
      ndjson: [
        { model: 'm', message: { role: 'assistant', content: 'Hel' }, done: false },
        { model: 'm', done: true },
      ],
      splitAt: [20, 50],
    })).start();
    const client = new CorralClient({ baseUrl: server.url });
    const got = await collect(client.chat({ model: 'm', messages: [] }));
    expect(got.map((c) => c.done)).toEqual([false, true]);
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('reports a refused connection in one readable line', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as { port: number };
    await new Promise((r) => probe.close(r));
    const client = new CorralClient({ baseUrl: `http://127.0.0.1:${port}` });
    const err = await client.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toBe(
      `could not connect to corral at http://127.0.0.1:${port} — is \`corral serve\` running?`,
    );
  });
});

describe('resolveApiKey', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'corral-cli-key-'));
  });
  afterEach(() => rm(home, { recursive: true, force: true }));

  it('prefers CORRAL_API_KEY, then $CORRAL_HOME/admin.key, else none', async () => {
    expect(resolveApiKey({ CORRAL_HOME: home })).toBeUndefined();
    await writeFile(join(home, 'admin.key'), 'admin-secret\n');
    expect(resolveApiKey({ CORRAL_HOME: home })).toBe('admin-secret');
    expect(resolveApiKey({ CORRAL_HOME: home, CORRAL_API_KEY: 'from-env' })).toBe('from-env');
  });

  it('builds the base URL from CORRAL_HOST / OLLAMA_HOST', () => {
    expect(CorralClient.fromEnvironment({ CORRAL_HOME: home }).baseUrl).toBe('http://127.0.0.1:11434');
    expect(CorralClient.fromEnvironment({ CORRAL_HOME: home, OLLAMA_HOST: '0.0.0.0:9000' }).baseUrl).toBe(
      'http://127.0.0.1:9000',
    );
  });
});
