import { Readable } from 'node:stream';
import { CorralClient } from '../client';
import { Capture, FakeServer } from '@corral/testing';
import { removeCommand, stopCommand } from './models';
import { parseKeepAlive, runCommand } from './run';

const FINAL = {
  model: 'tiny',
  message: { role: 'assistant', content: '' },
  done: true,
  total_duration: 1_500_000_000,
  load_duration: 1_000_000,
  prompt_eval_count: 5,
  prompt_eval_duration: 50_000_000,
  eval_count: 10,
  eval_duration: 500_000_000,
};

describe('corral run (one-shot)', () => {
  let server: FakeServer;
  afterEach(() => server.stop());

  const io = (stdin?: string) => {
    const input = Object.assign(Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]), {
      isTTY: stdin === undefined,
    });
    return { input, out: new Capture(), err: new Capture() };
  };

  it('checks the model, streams /api/chat and prints the answer, with --verbose stats on stderr', async () => {
    server = await new FakeServer((req) => {
      if (req.path === '/api/show') return { json: { details: {}, capabilities: ['completion'] } };
      if (req.path === '/api/chat')
        return {
          ndjson: [
            { model: 'tiny', message: { role: 'assistant', content: 'Hello' }, done: false },
            { model: 'tiny', message: { role: 'assistant', content: ', world' }, done: false },
            FINAL,
          ],
        };
      return undefined;
    }).start();
    const t = io();
    const client = new CorralClient({ baseUrl: server.url });
    await runCommand(
      client,
      'tiny',
      ['say', 'hi'],
      { verbose: true, format: 'json', keepalive: '10m', think: false },
      t,
    );

    expect(server.requests.map((r) => r.path)).toEqual(['/api/show', '/api/chat']);
    expect(server.requests[1]?.json).toEqual({
      model: 'tiny',
      messages: [{ role: 'user', content: 'say hi' }],
      format: 'json',
      keep_alive: '10m',
      think: false,
      stream: true,
    });
    expect(t.out.text).toBe('Hello, world\n\n');
    expect(t.err.text).toContain('total duration:       1.5s\n');
    expect(t.err.text).toContain('eval rate:            20.00 tokens/s\n');
  });

  it('prepends piped stdin to the prompt and shows thinking before the answer', async () => {
    server = await new FakeServer((req) => {
      if (req.path === '/api/show') return { json: {} };
      return {
        ndjson: [
          { model: 'r', message: { role: 'assistant', content: '', thinking: 'hmm' }, done: false },
          { model: 'r', message: { role: 'assistant', content: 'Yes.' }, done: false },
          FINAL,
        ],
      };
    }).start();
    const t = io('file contents\n');
    await runCommand(new CorralClient({ baseUrl: server.url }), 'r', ['summarise'], { think: true }, t);
    expect((server.requests[1]?.json as { messages: unknown }).messages).toEqual([
      { role: 'user', content: 'file contents\n summarise' },
    ]);
    expect(t.out.text).toBe('Thinking...\nhmm\n...done thinking.\n\nYes.\n\n');
    expect(t.err.text).toBe('');
  });

  it('says the model was not found, and reports an error line that arrives mid-answer', async () => {
    server = await new FakeServer((req) => {
      if (req.path === '/api/show')
        return (req.json as { model: string }).model === 'ghost'
          ? { status: 404, json: { error: "model 'ghost' not found" } }
          : { json: {} };
      return {
        ndjson: [
          { model: 'x', message: { role: 'assistant', content: 'par' }, done: false },
          { error: 'worker crashed' },
        ],
      };
    }).start();
    const client = new CorralClient({ baseUrl: server.url });
    await expect(runCommand(client, 'ghost', ['hi'], {}, io())).rejects.toThrow("model 'ghost' not found");
    await expect(runCommand(client, 'x', ['hi'], {}, io())).rejects.toThrow('worker crashed');
  });

  it('validates --keepalive before calling anything', () => {
    expect(parseKeepAlive('5m')).toBe('5m');
    expect(parseKeepAlive('300')).toBe(300);
    expect(parseKeepAlive('-1')).toBe(-1);
    expect(() => parseKeepAlive('soon')).toThrow(/invalid duration "soon"/);
  });
});

describe('stop and rm', () => {
  let server: FakeServer;
  afterEach(() => server.stop());

  it('stop unloads with keep_alive 0 and names a missing model', async () => {
    server = await new FakeServer((req) => {
      const model = (req.json as { model: string }).model;
      if (model === 'ghost') return { status: 404, json: { error: "model 'ghost' not found" } };
      return { ndjson: [{ model, done: true, done_reason: 'unload' }] };
    }).start();
    const client = new CorralClient({ baseUrl: server.url });
    await stopCommand(client, 'tiny');
    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      path: '/api/generate',
      json: { model: 'tiny', keep_alive: 0 },
    });
    await expect(stopCommand(client, 'ghost')).rejects.toThrow('couldn\'t find model "ghost" to stop');
  });

  it('rm unloads then deletes each model and prints Ollama’s line', async () => {
    server = await new FakeServer((req) =>
      req.path === '/api/delete' ? { json: {} } : { ndjson: [{ model: 'x', done: true }] },
    ).start();
    const out = new Capture();
    await removeCommand(new CorralClient({ baseUrl: server.url }), ['a', 'b'], out);
    expect(server.requests.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.json)}`)).toEqual([
      'POST /api/generate {"model":"a","keep_alive":0}',
      'DELETE /api/delete {"model":"a"}',
      'POST /api/generate {"model":"b","keep_alive":0}',
      'DELETE /api/delete {"model":"b"}',
    ]);
    expect(out.text).toBe("deleted 'a'\ndeleted 'b'\n");
  });
});
