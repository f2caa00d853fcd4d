import Fastify, { type FastifyInstance } from 'fastify';
import { CorralError } from '@corral/common';
import { abortOnDisconnect, collect, primed } from '@corral/serving';
import { sendSse } from './streaming';
import { done, run } from './test-events';

interface Served {
  app: FastifyInstance;
  get(): Promise<{ statusCode: number; headers: Record<string, string>; body: string; json(): unknown }>;
}

/** A real Fastify server on a real socket, so hijacking and SSE framing behave as in production. */
async function serve(handler: (reply: import('fastify').FastifyReply) => Promise<void>): Promise<Served> {
  // fetch keeps connections alive; close them so each test's server shuts down at once.
  const app = Fastify({ forceCloseConnections: true });
  app.get('/s', async (_req, reply) => {
    try {
      await handler(reply);
    } catch (e) {
      await reply.status((e as CorralError).status ?? 500).send({ error: (e as Error).message });
    }
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    get: async () => {
      const res = await fetch(`${url}/s`);
      const body = await res.text();
      return {
        statusCode: res.status,
        headers: Object.fromEntries(res.headers),
        body,
        json: () => JSON.parse(body),
      };
    },
  };
}

function events(body: string): unknown[] {
  expect(body.endsWith('\n\n')).toBe(true);
  return body
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      expect(block.startsWith('data: ')).toBe(true);
      const data = block.slice('data: '.length);
      return data === '[DONE]' ? data : JSON.parse(data);
    });
}

describe('sendSse', () => {
  it('frames each chunk as an SSE event and ends with [DONE]', async () => {
    const { app, get } = await serve((reply) => sendSse(reply, run(['a', 'b'])));
    const res = await get();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(events(res.body)).toEqual([
      { type: 'chunk', text: 'a', tokens: 1 },
      { type: 'chunk', text: 'b', tokens: 1 },
      done(),
      '[DONE]',
    ]);
    await app.close();
  });

  it('reports a failure after streaming began in-band in OpenAI shape, then closes without [DONE]', async () => {
    const failing = run(
      ['a'],
      new CorralError('worker_failed', 'inference worker stopped while generating (crash)'),
    );
    const { app, get } = await serve((reply) => sendSse(reply, failing));
    const res = await get();
    expect(res.statusCode).toBe(200);
    expect(events(res.body)).toEqual([
      { type: 'chunk', text: 'a', tokens: 1 },
      {
        error: {
          message: 'inference worker stopped while generating (crash)',
          type: 'api_error',
          param: null,
          code: 'worker_failed',
        },
      },
    ]);
    await app.close();
  });

  it('never leaks the message of an unexpected error', async () => {
    const { app, get } = await serve((reply) => sendSse(reply, run([], new Error('secret path /etc/x'))));
    const res = await get();
    const [err] = events(res.body) as { error: { message: string; code: string } }[];
    expect(err?.error.code).toBe('internal');
    expect(err?.error.message).toMatch(/^internal error \(request id .+\)$/);
    await app.close();
  });
});

describe('abortOnDisconnect', () => {
  it('aborts the run when the client disconnects mid-stream, and not when it completes', async () => {
    let aborted: Promise<boolean> | undefined;
    const { app } = await serve(async (reply) => {
      const signal = abortOnDisconnect(reply).signal;
      aborted = new Promise((resolve) => {
        signal.addEventListener('abort', () => resolve(true));
        reply.raw.on('finish', () => resolve(false));
      });
      async function* endless() {
        while (!signal.aborted) {
          yield { type: 'chunk', text: 'x', tokens: 1 };
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      await sendSse(reply, endless());
    });
    const ac = new AbortController();
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/s`;
    const res = await fetch(url, { signal: ac.signal });
    await res.body?.getReader().read();
    ac.abort();
    expect(await aborted).toBe(true);
    await app.close();

    const complete = await serve(async (reply) => {
      const signal = abortOnDisconnect(reply).signal;
      aborted = new Promise((resolve) => {
        signal.addEventListener('abort', () => resolve(true));
        reply.raw.on('close', () => setTimeout(() => resolve(false), 20));
      });
      await sendSse(reply, run(['a']));
    });
    await complete.get();
    expect(await aborted).toBe(false);
    await complete.app.close();
  });
});

describe('primed', () => {
  it('raises a failure of the first event before anything is sent, so it is an HTTP error', async () => {
    const { app, get } = await serve(async (reply) =>
      sendSse(reply, await primed(run([], new CorralError('bad_request', 'prompt too long')))),
    );
    const res = await get();
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'prompt too long' });
    await app.close();
  });

  it('replays the first event and closes the generator when the consumer stops early', async () => {
    let closed = false;
    async function* gen() {
      try {
        yield 1;
        yield 2;
        yield 3;
      } finally {
        closed = true;
      }
    }
    const it = await primed(gen());
    for await (const x of it) {
      expect(x).toBe(1);
      break;
    }
    expect(closed).toBe(true);
  });
});

describe('collect', () => {
  it('joins the text and keeps the done event', async () => {
    expect(await collect(run(['Hel', 'lo']))).toEqual({ text: 'Hello', done: done() });
  });
});
