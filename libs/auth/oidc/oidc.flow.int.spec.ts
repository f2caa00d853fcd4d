/**
 * The whole sign-on flow against a real OpenID provider (oidc-provider, in-process on 127.0.0.1 with
 * its development login pages) and the real Corral application (AppModule over Fastify on a real
 * socket, real PGlite): the browser's redirects are followed by hand, with a cookie jar per host.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig, type CorralConfig } from '@corral/config';
import { openDatabase, type Database } from '@corral/persistence';
import { createRegistry } from '@corral/registry';
import { Scheduler, WorkerPool } from '@corral/dispatch';
import { MIGRATIONS } from '../../../migrations';
import { AppModule } from '../../../apps/gateway/src/app.module';
import { AuthRepositories, hashPassword, newId } from '@corral/auth';
import { AuditInterceptor } from '@corral/audit';

interface Account {
  email: string;
  email_verified: boolean;
  name: string;
  groups: string[];
}
const accounts: Record<string, Account> = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice', groups: [] },
  bob: { email: 'bob@example.com', email_verified: true, name: 'Bob', groups: ['research-readers'] },
  mallory: { email: 'carol@example.com', email_verified: false, name: 'Not Carol', groups: [] },
};

const GROUP_MAP = {
  'corral-admins': { admin: true },
  'research-leads': [{ team: 'Research', role: 'owner' }, { auditor: true }],
  'research-readers': { team: 'Research', role: 'viewer' },
  ops: { team: 'Ops', role: 'member' },
};

let home: string;
let database: Database;
let repos: AuthRepositories;
let idp: Server;
let issuer: string;
const apps: NestFastifyApplication[] = [];

async function startApp(config: CorralConfig): Promise<string> {
  const scheduler = new Scheduler(new WorkerPool({ count: 0 }), {
    maxLoadedModels: 1,
    maxQueue: 1,
    loadTimeoutMs: 1000,
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.with({
      config,
      database,
      registry: createRegistry({ modelsDir: join(home, 'models') }),
      scheduler,
    }),
    new FastifyAdapter(),
    { logger: false },
  );
  apps.push(app);
  // As apps/gateway/src/server.ts does: every request (and refusal) goes to the audit log.
  app.getHttpAdapter().getInstance().addHook('onRequest', app.get(AuditInterceptor).hook);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpAdapter().getInstance().server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

let base: string;
let offBase: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'corral-oidc-'));
  database = await openDatabase({ kind: 'pglite', dataDir: join(home, 'db') }, { migrations: MIGRATIONS });
  repos = new AuthRepositories(database.dataSource);
  await repos.teams.create(newId('team'), 'Research');
  await repos.teams.create(newId('team'), 'Ops');
  await repos.teams.create(newId('team'), 'Manual');

  // The provider's port must be known before Corral's config names the issuer, and Corral's before
  // the provider registers the client's redirect URI: listen first, attach the handler last.
  idp = createServer();
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
  const port = (idp.address() as { port: number }).port;
  issuer = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    CORRAL_HOME: home,
    CORRAL_OIDC_ISSUER: issuer,
    CORRAL_OIDC_CLIENT_ID: 'corral',
    CORRAL_OIDC_CLIENT_SECRET: 'a-client-secret-for-tests',
    CORRAL_OIDC_GROUP_MAP: JSON.stringify(GROUP_MAP),
  });
  base = await startApp(config);
  offBase = await startApp(loadConfig({ CORRAL_HOME: home }));

  // oidc-provider ships no types; this is the slice the test uses.
  type ProviderCtor = new (
    issuer: string,
    config: Record<string, unknown> & {
      findAccount: (ctx: unknown, id: string) => { accountId: string; claims: () => object } | undefined;
    },
  ) => { callback(): (req: unknown, res: unknown) => void };
  const spec = 'oidc-provider';
  const { default: Provider } = (await import(spec)) as { default: ProviderCtor };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'corral',
        client_secret: 'a-client-secret-for-tests',
        redirect_uris: [`${base}/auth/oidc/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    conformIdTokenClaims: false,
    // Explicit keys and lifetimes keep the provider from warning about its development defaults.
    jwks: {
      keys: [generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })],
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    cookies: { keys: ['test-cookie-key'] },
    findAccount: (_ctx, id) =>
      accounts[id] ? { accountId: id, claims: () => ({ sub: id, ...accounts[id]! }) } : undefined,
  });
  idp.on('request', provider.callback());
}, 60_000);

afterAll(async () => {
  for (const app of apps) await app.close();
  idp?.closeAllConnections();
  await new Promise((r) => idp?.close(r));
  await database?.close();
  rmSync(home, { recursive: true, force: true });
});

/** A browser's cookie jar, keyed by host (paths ignored: every test cookie is safe to send). */
class Jar {
  private readonly cookies = new Map<string, Map<string, string>>();
  store(url: string, res: Response): void {
    const host = new URL(url).host;
    const jar = this.cookies.get(host) ?? new Map<string, string>();
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(c) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.cookies.set(host, jar);
  }
  header(url: string): string {
    return [...(this.cookies.get(new URL(url).host) ?? new Map<string, string>())]
      .map(([k, v]) => `${k}=${v}`)
      .join('; ');
  }
  get(url: string, name: string): string | undefined {
    return this.cookies.get(new URL(url).host)?.get(name);
  }
}

async function go(jar: Jar, url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, {
    ...init,
    redirect: 'manual',
    headers: { ...(init.headers as Record<string, string>), cookie: jar.header(url) },
  });
  jar.store(url, res);
  return res;
}

/**
 * Starts at Corral's login, signs in as `account` at the provider (login and consent pages), and
 * stops at the redirect back to Corral's callback, returning that URL unvisited.
 */
async function toCallback(jar: Jar, account: string, redirect = '/console/teams'): Promise<string> {
  let res = await go(jar, `${base}/auth/oidc/login?redirect=${encodeURIComponent(redirect)}`);
  expect(res.status).toBe(302);
  let url = new URL(res.headers.get('location')!, base).href;
  for (let hops = 0; hops < 20; hops++) {
    if (url.startsWith(`${base}/auth/oidc/callback`)) return url;
    res = await go(jar, url);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url).href;
      continue;
    }
    const html = await res.text();
    expect(res.status).toBe(200);
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    const form: Record<string, string> =
      prompt === 'login' ? { prompt, login: account, password: 'any' } : { prompt: prompt ?? '' };
    res = await go(jar, url, {
      method: 'POST',
      body: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBeGreaterThanOrEqual(300);
    url = new URL(res.headers.get('location')!, url).href;
  }
  throw new Error('the provider never redirected back');
}

/** A full sign-in; returns the session cookie, the CSRF token and where Corral sent the browser. */
async function signIn(account: string, redirect?: string) {
  const jar = new Jar();
  const res = await go(jar, await toCallback(jar, account, redirect));
  const body = res.status === 302 ? '' : await res.text();
  expect({ status: res.status, body }).toMatchObject({ status: 302 });
  const location = res.headers.get('location')!;
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('corral_session='))!;
  return {
    jar,
    location,
    setCookie,
    cookie: `corral_session=${jar.get(base, 'corral_session')}`,
    csrf: /#csrf_token=(\w+)$/.exec(location)?.[1],
  };
}

async function rolesOf(email: string) {
  const user = (await repos.users.findByEmail(email))!;
  const teams = await repos.teams.membershipsOfUser(user.id);
  const names: Record<string, string> = {};
  for (const m of teams) names[(await repos.teams.findById(m.teamId))!.name] = m.role;
  return { globalRole: user.globalRole, teams: names };
}

it('first login creates the user, maps groups to roles, and the session opens the admin API', async () => {
  accounts.alice!.groups = ['corral-admins', 'research-leads', 'ops', 'unmapped'];
  const s = await signIn('alice');
  expect(s.location).toMatch(/^\/console\/teams#csrf_token=\w{32}$/);
  expect(s.setCookie).toMatch(/; Path=\/; .*HttpOnly; SameSite=Lax/);
  expect(await rolesOf('alice@example.com')).toEqual({
    globalRole: 'admin',
    teams: { Research: 'owner', Ops: 'member' },
  });
  const users = await fetch(`${base}/admin/v1/users`, { headers: { cookie: s.cookie } });
  expect(users.status).toBe(200);
  expect(JSON.stringify(await users.json())).toContain('alice@example.com');
  // The sign-in is in the audit log as a login naming the user (events are written in batches).
  let logins: { actor_id?: string; details?: Record<string, unknown> }[] = [];
  for (let i = 0; i < 50 && logins.length === 0; i++) {
    const r = await fetch(`${base}/admin/v1/audit?action=auth.login`, { headers: { cookie: s.cookie } });
    logins = ((await r.json()) as { data?: typeof logins }).data ?? [];
    if (logins.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  expect(logins[0]?.details).toMatchObject({ email: 'alice@example.com' });
  // The CSRF token from the fragment is the session's: an unsafe request with it succeeds.
  const out = await fetch(`${base}/auth/logout`, {
    method: 'POST',
    headers: { cookie: s.cookie, 'x-csrf-token': s.csrf! },
  });
  expect(out.status).toBe(204);
  expect((await fetch(`${base}/admin/v1/users`, { headers: { cookie: s.cookie } })).status).toBe(401);
});

it('the next login follows changed groups and keeps memberships the map does not govern', async () => {
  const alice = (await repos.users.findByEmail('alice@example.com'))!;
  const manual = (await repos.teams.list({ name: 'Manual' })).items[0]!;
  await repos.teams.addMember(manual.id, alice.id, 'member');
  accounts.alice!.groups = ['research-readers'];
  const s = await signIn('alice');
  expect(await rolesOf('alice@example.com')).toEqual({
    globalRole: null,
    teams: { Research: 'viewer', Manual: 'member' },
  });
  // Same user (found by issuer + subject), not a second account.
  expect((await repos.users.findByIdentity(issuer, 'alice'))?.id).toBe(alice.id);
  expect((await fetch(`${base}/admin/v1/users`, { headers: { cookie: s.cookie } })).status).toBe(403);
  const me = (await (await fetch(`${base}/auth/me`, { headers: { cookie: s.cookie } })).json()) as {
    teams: Record<string, string>;
  };
  expect(Object.values(me.teams).sort()).toEqual(['member', 'viewer']);
});

it('links a verified email to an existing account, refuses an unverified one', async () => {
  const bob = await repos.users.create({
    id: newId('usr'),
    email: 'Bob@example.com',
    name: 'Bob',
    passwordHash: await hashPassword('a long password'),
    globalRole: null,
  });
  await signIn('bob');
  expect((await repos.users.findByIdentity(issuer, 'bob'))?.id).toBe(bob.id);
  expect((await rolesOf('bob@example.com')).teams).toEqual({ Research: 'viewer' });

  await repos.users.create({
    id: newId('usr'),
    email: 'carol@example.com',
    name: '',
    passwordHash: null,
    globalRole: null,
  });
  const jar = new Jar();
  const res = await go(jar, await toCallback(jar, 'mallory'));
  expect(res.status).toBe(403);
  expect(await res.text()).toContain('not verified');
  expect(await repos.users.findByIdentity(issuer, 'mallory')).toBeUndefined();
});

it('refuses tampered state, a missing transaction and a disabled user; never redirects off-site', async () => {
  const jar = new Jar();
  const callback = await toCallback(jar, 'bob');
  const tampered = callback.replace(/state=([^&]+)/, 'state=forged');
  let res = await go(jar, tampered);
  expect(res.status).toBe(400);
  const body = await res.text();
  expect(body).toContain('state does not match');
  expect(body).not.toMatch(/\bat \w+ \(/); // no stack
  // The transaction is single-use: the refusal cleared it, so even the genuine callback now fails.
  res = await go(jar, callback);
  expect(res.status).toBe(400);
  expect(await res.text()).toContain('start it again');

  // A provider error comes back as 401 with the provider's code.
  const jar2 = new Jar();
  const login = await go(jar2, `${base}/auth/oidc/login`);
  const state = new URL(login.headers.get('location')!).searchParams.get('state')!;
  res = await go(
    jar2,
    `${base}/auth/oidc/callback?error=access_denied&state=${state}&iss=${encodeURIComponent(issuer)}`,
  );
  expect(res.status).toBe(401);
  expect(await res.text()).toContain('access_denied');

  const off = await signIn('bob', '//evil.example/steal');
  expect(off.location).toMatch(/^\/#csrf_token=/);

  const bob = (await repos.users.findByEmail('bob@example.com'))!;
  await repos.users.update(bob.id, { disabled: true });
  const jar3 = new Jar();
  res = await go(jar3, await toCallback(jar3, 'bob'));
  expect(res.status).toBe(403);
  expect(await res.text()).toContain('disabled');
  expect(res.headers.getSetCookie().some((c) => c.startsWith('corral_session='))).toBe(false);
});

it('answers 404 on both routes when OIDC is not configured', async () => {
  for (const path of ['/auth/oidc/login', '/auth/oidc/callback?code=x&state=y']) {
    const res = await fetch(offBase + path, { redirect: 'manual' });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('not configured');
  }
});
