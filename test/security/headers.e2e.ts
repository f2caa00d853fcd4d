/**
 * Security headers on every kind of response (issue 12), the version header only for callers the
 * guard let in, and the errors Fastify and Node answer before any route runs in the caller's
 * dialect (issue 8: a path parameter too long, OPTIONS, a NUL byte in a header) instead of
 * Fastify's `{"statusCode","error","message"}`.
 */
import { SCRIPT_TEXT, buildTinyModels, importModel, startCorral, type CorralProcess } from '@corral/testing';
import { send, sendRaw, type RawResponse } from './browser-http';

jest.setTimeout(180_000);

function expectSecurityHeaders(r: RawResponse, what: string): void {
  expect({ what, headers: r.headers }).toMatchObject({
    what,
    headers: {
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      'content-security-policy': "frame-ancestors 'none'",
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    },
  });
}

/** Neither Fastify's error shape nor its wording. */
function expectNoFastifyShape(r: RawResponse): void {
  expect(r.json).toBeDefined();
  expect(r.json).not.toHaveProperty('statusCode');
  expect(r.text).not.toMatch(/FST_ERR|Client Error|Cannot OPTIONS/);
}

describe('response headers and pre-route errors', () => {
  let corral: CorralProcess;
  const auth = () => ({ authorization: `Bearer ${corral.key}` });

  beforeAll(async () => {
    const models = await buildTinyModels();
    corral = await startCorral();
    await importModel(corral.url, 'scripted', models.scripted);
  });
  afterAll(() => corral?.stop());

  it('sets them on 200s, 401s, 404s and the root route; the version only when authenticated', async () => {
    const ok = await send(corral.url, '/api/tags', { headers: auth() });
    expect(ok.status).toBe(200);
    expectSecurityHeaders(ok, '200');
    expect(ok.headers['x-corral-version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(ok.headers['x-request-id']).toMatch(/^req_/);

    const cases: [string, string, Record<string, string>, number][] = [
      ['401 ollama', '/api/tags', {}, 401],
      ['401 openai', '/v1/models', { authorization: 'Bearer sk-wrong' }, 401],
      ['404', '/no/such/route', auth(), 404],
      ['404 unauthenticated', '/no/such/route', {}, 404],
      ['root', '/', {}, 200],
      ['version', '/api/version', {}, 200],
    ];
    for (const [what, path, headers, status] of cases) {
      const r = await send(corral.url, path, { headers });
      expect({ what, status: r.status }).toEqual({ what, status });
      expectSecurityHeaders(r, what);
      expect({ what, version: r.headers['x-corral-version'] }).toEqual({ what, version: undefined });
    }
  });

  it('sets them on streamed NDJSON and SSE responses', async () => {
    const body = JSON.stringify({
      model: 'scripted',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const headers = { ...auth(), 'content-type': 'application/json' };
    const ndjson = await send(corral.url, '/api/chat', { body, headers });
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers['content-type']).toMatch(/application\/x-ndjson/);
    expectSecurityHeaders(ndjson, 'ndjson');
    const text = ndjson.text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { message?: { content?: string } }).message?.content ?? '')
      .join('');
    expect(text).toBe(SCRIPT_TEXT);

    const sse = await send(corral.url, '/v1/chat/completions', { body, headers });
    expect(sse.status).toBe(200);
    expect(sse.headers['content-type']).toMatch(/text\/event-stream/);
    expectSecurityHeaders(sse, 'sse');
    expect(sse.text).toContain('data: [DONE]');
  });

  it('answers a too-long path parameter with 414 in the dialect', async () => {
    const r = await send(corral.url, `/admin/v1/users/${'a'.repeat(300)}`, { headers: auth() });
    expect(r.status).toBe(414);
    expectNoFastifyShape(r);
    expect(r.json).toEqual({ error: 'request URL has a path segment longer than 100 characters' });
    expectSecurityHeaders(r, '414');
  });

  it('answers OPTIONS in the dialect', async () => {
    const ollama = await send(corral.url, '/api/chat', { method: 'OPTIONS' });
    expect(ollama.status).toBe(404);
    expectNoFastifyShape(ollama);
    expect(ollama.json).toEqual({
      error: 'OPTIONS is not supported here: cross-origin (CORS) requests are not enabled',
    });
    expectSecurityHeaders(ollama, 'OPTIONS ollama');
    const openai = await send(corral.url, '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' },
    });
    expect(openai.status).toBe(404);
    expectNoFastifyShape(openai);
    expect(openai.json.error).toMatchObject({
      message: 'OPTIONS is not supported here: cross-origin (CORS) requests are not enabled',
      type: 'not_found_error',
    });
  });

  it('answers a NUL byte in a header in the dialect', async () => {
    const req = (path: string) =>
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${corral.key}\r\nX-Note: a\0b\r\n\r\n`;
    const message =
      'a request header contains an invalid character (control characters such as NUL are not allowed in header names or values)';
    const ollama = await sendRaw(corral.url, req('/api/tags'));
    expect(ollama.status).toBe(400);
    expectNoFastifyShape(ollama);
    expect(ollama.json).toEqual({ error: message });
    expectSecurityHeaders(ollama, 'NUL ollama');
    const openai = await sendRaw(corral.url, req('/v1/models'));
    expect(openai.status).toBe(400);
    expectNoFastifyShape(openai);
    expect(openai.json).toEqual({
      error: { message, type: 'invalid_request_error', param: null, code: 'bad_request' },
    });
    // The server is still there for the next client.
    expect((await send(corral.url, '/api/tags', { headers: auth() })).status).toBe(200);
  });
});
