/**
 * Anonymous loopback mode against a hostile web page (security issue 3). With
 * CORRAL_AUTH_ANONYMOUS=loopback, a page the laptop's owner visits could post "simple requests"
 * (text/plain, forms: no CORS preflight) to 127.0.0.1:11434, or re-point its own host name at
 * 127.0.0.1 (DNS rebinding) and read the answers. Before the fix a cross-site text/plain POST
 * created a global admin (201) and a rebinding request read /admin/v1/users.
 * Now: foreign origins are refused on state-changing requests (403), browsers must send JSON as
 * application/json (415), only local Host names are served (403), and anonymous callers never
 * hold the admin scope (403), while the ollama and openai SDKs and allowed local pages still work.
 */
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { SCRIPT_TEXT, buildTinyModels, importModel, startCorral, type CorralProcess } from '@corral/testing';
import { crossSite, send } from './browser-http';

jest.setTimeout(180_000);

describe('anonymous loopback mode and browsers', () => {
  let corral: CorralProcess;
  let port: string;
  const admin = () => ({ authorization: `Bearer ${corral.key}` });
  const users = async (): Promise<string[]> =>
    (
      (await send(corral.url, '/admin/v1/users?limit=200', { headers: admin() })).json.data as {
        email: string;
      }[]
    ).map((u) => u.email);

  beforeAll(async () => {
    const models = await buildTinyModels();
    corral = await startCorral({
      CORRAL_AUTH_ANONYMOUS: 'loopback',
      CORRAL_ORIGINS: 'https://app.example.com, https://*.corp.example',
    });
    port = new URL(corral.url).port;
    await importModel(corral.url, 'scripted', models.scripted);
  });
  afterAll(() => corral?.stop());

  const chat = JSON.stringify({
    model: 'scripted',
    messages: [{ role: 'user', content: 'hi' }],
    stream: false,
  });
  const newAdmin = JSON.stringify({ email: 'mallory@evil.example', global_role: 'admin' });
  const create = JSON.stringify({ model: 'evil', from: 'scripted', stream: false });

  it('refuses cross-site text/plain posts to the admin API, create and chat', async () => {
    for (const [path, body] of [
      ['/admin/v1/users', newAdmin],
      ['/api/create', create],
      ['/api/chat', chat],
      ['/v1/chat/completions', chat],
    ] as const) {
      const r = await send(corral.url, path, {
        body,
        headers: crossSite('https://evil.example', { 'content-type': 'text/plain;charset=UTF-8' }),
      });
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
      expect(JSON.stringify(r.json)).toContain("origin 'https://evil.example' is not allowed");
    }
    // A sandboxed frame or a page with no-referrer policy sends `Origin: null`: still foreign.
    const nul = await send(corral.url, '/admin/v1/users', {
      body: newAdmin,
      headers: crossSite('null', { 'content-type': 'text/plain' }),
    });
    expect(nul.status).toBe(403);
    // Also a form post and a JSON post (which a browser would preflight) from a foreign origin.
    for (const type of ['application/x-www-form-urlencoded', 'application/json']) {
      const r = await send(corral.url, '/admin/v1/users', {
        body: newAdmin,
        headers: crossSite('http://evil.example:8080', { 'content-type': type }),
      });
      expect(r.status).toBe(403);
    }
    expect(await users()).not.toContain('mallory@evil.example');
    const models = (await send(corral.url, '/api/tags')).json.models as { name: string }[];
    expect(models.map((m) => m.name)).not.toContain('evil:latest');
  });

  it('reads JSON from a browser only as application/json, even from an allowed origin', async () => {
    // An allowed origin (a local dev server) posting a simple request: the body is not read as JSON.
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const r = await send(corral.url, '/api/chat', {
        body: chat,
        headers: crossSite('http://localhost:5173', { 'content-type': type, 'sec-fetch-site': 'same-site' }),
      });
      expect({ type, status: r.status }).toEqual({ type, status: 415 });
      expect(r.json.error).toMatch(
        /^unsupported Content-Type '.+'.*: send the request body as application\/json$/,
      );
    }
    const openai = await send(corral.url, '/v1/chat/completions', {
      body: chat,
      headers: crossSite('http://localhost:5173', { 'content-type': 'text/plain' }),
    });
    expect(openai.status).toBe(415);
    expect(openai.json.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'unsupported_media_type',
    });
    // Non-browser clients keep Ollama's leniency: curl -d (form type), Node fetch (text/plain), none.
    for (const type of ['application/x-www-form-urlencoded', 'text/plain;charset=UTF-8', undefined]) {
      const r = await send(corral.url, '/api/chat', {
        body: chat,
        headers: type ? { 'content-type': type } : {},
      });
      expect({ type, status: r.status }).toEqual({ type, status: 200 });
    }
    // JSON under its own name and as application/*+json is read from anyone.
    for (const type of ['application/json; charset=utf-8', 'application/vnd.corral+json']) {
      const r = await send(corral.url, '/api/chat', {
        body: chat,
        headers: crossSite('http://localhost:5173', { 'content-type': type }),
      });
      expect({ type, status: r.status }).toEqual({ type, status: 200 });
    }
  });

  it('serves only local Host names (DNS rebinding)', async () => {
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.nip.io:${port}`]) {
      const r = await send(corral.url, '/admin/v1/users', { headers: { host } });
      expect({ host, status: r.status }).toEqual({ host, status: 403 });
      expect(r.json.error).toMatch(/^host '.*' is not allowed/);
      expect((await send(corral.url, '/api/tags', { headers: { host } })).status).toBe(403);
    }
    for (const host of [
      `localhost:${port}`,
      'localhost',
      `127.0.0.1:${port}`,
      `[::1]:${port}`,
      `app.localhost:${port}`,
    ]) {
      const r = await send(corral.url, '/api/tags', { headers: { host } });
      expect({ host, status: r.status }).toEqual({ host, status: 200 });
    }
  });

  it('lets allowed origins change state', async () => {
    for (const origin of [
      `http://127.0.0.1:${port}`, // the server's own origin
      'http://localhost:3000',
      'https://[::1]:8443',
      'app://obsidian.md',
      'vscode-webview://abc123',
      'https://app.example.com', // CORRAL_ORIGINS
      'https://chat.corp.example', // CORRAL_ORIGINS wildcard
    ]) {
      const r = await send(corral.url, '/api/chat', {
        body: chat,
        headers: { origin, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      });
      expect({ origin, status: r.status }).toEqual({ origin, status: 200 });
    }
    // Look-alikes of allowed origins are foreign.
    for (const origin of [
      'http://localhost.evil.example',
      'http://127.0.0.1.evil.example:8080',
      'https://app.example.com.evil.example',
      'https://evilcorp.example',
      `http://evil.example:${port}`,
    ]) {
      const r = await send(corral.url, '/api/chat', {
        body: chat,
        headers: { origin, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      });
      expect({ origin, status: r.status }).toEqual({ origin, status: 403 });
    }
    // Reads are not state changes: a foreign Origin on a GET is answered (the browser, without CORS
    // headers, keeps the answer from the page).
    expect(
      (await send(corral.url, '/api/tags', { headers: { origin: 'https://evil.example' } })).status,
    ).toBe(200);
  });

  it('keeps the ollama and openai SDKs working', async () => {
    const ollama = new Ollama({ host: corral.url });
    expect((await ollama.list()).models.map((m) => m.name)).toContain('scripted:latest');
    const reply = await ollama.chat({ model: 'scripted', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.message.content).toBe(SCRIPT_TEXT);
    let streamed = '';
    for await (const part of await ollama.generate({ model: 'scripted', prompt: 'hi', stream: true }))
      streamed += part.response;
    expect(streamed).toBe(SCRIPT_TEXT);
    // The OpenAI SDK always sends a key: a real one, or none when the caller removes the header.
    for (const openai of [
      new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: corral.key, maxRetries: 0 }),
      new OpenAI({
        baseURL: `${corral.url}/v1`,
        apiKey: 'unused',
        defaultHeaders: { Authorization: null },
        maxRetries: 0,
      }),
    ]) {
      const c = await openai.chat.completions.create({
        model: 'scripted',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(c.choices[0]?.message.content).toBe(SCRIPT_TEXT);
      expect((await openai.models.list()).data.map((m) => m.id)).toContain('scripted:latest');
    }
  });

  it('never makes an anonymous caller an admin', async () => {
    const list = await send(corral.url, '/admin/v1/users');
    expect(list.status).toBe(403);
    expect(list.json.error).toMatch(/anonymous loopback access never has the 'admin' scope/);
    const made = await send(corral.url, '/admin/v1/users', {
      body: newAdmin,
      headers: { 'content-type': 'application/json' },
    });
    expect(made.status).toBe(403);
    expect((await send(corral.url, '/admin/v1/keys?limit=5')).status).toBe(403);
    expect((await send(corral.url, '/admin/v1/audit?limit=5')).status).toBe(403);
    const me = (await send(corral.url, '/auth/me')).json;
    expect(me).toMatchObject({ kind: 'anonymous', global_role: null });
    expect(me.scopes).not.toContain('admin');
    expect(me.scopes).toEqual(expect.arrayContaining(['inference', 'models:read']));
    expect(await users()).not.toContain('mallory@evil.example');
    // The admin key still administers, from the same loopback address.
    expect((await send(corral.url, '/admin/v1/users', { headers: admin() })).status).toBe(200);
  });
});
