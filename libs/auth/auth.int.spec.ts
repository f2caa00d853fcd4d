/**
 * Repositories and services against the real databases: PGlite always, PostgreSQL (own schema) when
 * DATABASE_URL is set; the Redis invalidation bus when REDIS_URL is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '@corral/persistence';
import { MIGRATIONS } from '../../migrations';
import {
  AuthRepositories,
  KeyCache,
  KeyService,
  LastUsedWriter,
  LocalInvalidationBus,
  RedisInvalidationBus,
  SessionService,
  hashPassword,
  newId,
} from '@corral/auth';

type Target = { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };
const targets: [string, () => Target][] = [
  ['pglite', () => ({ kind: 'pglite', dataDir: mkdtempSync(join(tmpdir(), 'corral-auth-')) })],
];
if (process.env.DATABASE_URL)
  targets.push(['postgres', () => ({ kind: 'postgres', url: process.env.DATABASE_URL! })]);
else console.log('DATABASE_URL not set: auth integration tests run on PGlite only');

describe.each(targets)('identity on %s', (_name, cfgFor) => {
  let db: Database;
  let repos: AuthRepositories;
  const schema = `auth_${process.pid}_${Date.now()}`;
  const cfg = cfgFor();
  beforeAll(async () => {
    db = await openDatabase(cfg, { migrations: MIGRATIONS, schema });
    repos = new AuthRepositories(db.dataSource);
  });
  afterAll(async () => {
    if (db.dataSource.isInitialized) {
      if (cfg.kind === 'postgres') await db.dataSource.query(`DROP SCHEMA "${schema}" CASCADE`);
      await db.close();
    } else if (cfg.kind === 'postgres') {
      const again = await openDatabase(cfg, { migrate: false });
      await again.dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await again.close();
    }
    if (cfg.kind === 'pglite') rmSync(cfg.dataDir, { recursive: true, force: true });
  });

  const user = (email: string, extra: { passwordHash?: string } = {}) =>
    repos.users.create({
      id: newId('usr'),
      email,
      name: '',
      passwordHash: extra.passwordHash ?? null,
      globalRole: null,
    });

  it('creates users with unique emails (case-insensitive) and pages through them', async () => {
    await user('Ann@example.com');
    await expect(user('ann@EXAMPLE.com')).rejects.toMatchObject({ code: 'conflict', status: 409 });
    for (let i = 0; i < 4; i++) await user(`u${i}@example.org`);
    expect((await repos.users.findByEmail('ANN@example.com'))?.email).toBe('Ann@example.com');
    // Order is creation time (to the millisecond), then id: users made in the same millisecond
    // come in id order, so the pages are checked against the one-page listing.
    const all = (await repos.users.list({ limit: 10, email: 'example.org' })).items.map((u) => u.email);
    expect([...all].sort()).toEqual(['u0@example.org', 'u1@example.org', 'u2@example.org', 'u3@example.org']);
    const first = await repos.users.list({ limit: 2, email: 'example.org' });
    expect(first.items.map((u) => u.email)).toEqual(all.slice(0, 2));
    const second = await repos.users.list({ limit: 2, email: 'example.org', cursor: first.nextCursor! });
    expect(second.items.map((u) => u.email)).toEqual(all.slice(2, 4));
    expect(second.nextCursor).toBeNull();
    await expect(repos.users.list({ cursor: 'garbage' })).rejects.toMatchObject({ status: 400 });
  });

  it('links an external identity (issuer + subject) to a user', async () => {
    const u = await user('sso@example.com');
    await repos.users.linkIdentity({ issuer: 'https://idp.example.com', subject: 'abc', userId: u.id });
    expect((await repos.users.findByIdentity('https://idp.example.com', 'abc'))?.id).toBe(u.id);
    await expect(
      repos.users.linkIdentity({ issuer: 'https://idp.example.com', subject: 'abc', userId: u.id }),
    ).rejects.toMatchObject({ status: 409 });
  });

  it('keeps memberships and keys inside their team', async () => {
    const a = await repos.teams.create(newId('team'), 'Alpha');
    const b = await repos.teams.create(newId('team'), 'Beta');
    await expect(repos.teams.create(newId('team'), 'alpha')).rejects.toMatchObject({ status: 409 });
    const u = await user('member@example.com');
    await repos.teams.addMember(a.id, u.id, 'owner');
    await expect(repos.teams.addMember(a.id, u.id, 'member')).rejects.toMatchObject({ status: 409 });
    expect((await repos.teams.listMembers(a.id, {})).items.map((m) => m.email)).toEqual([
      'member@example.com',
    ]);
    expect((await repos.teams.listMembers(b.id, {})).items).toEqual([]);

    const bus = new LocalInvalidationBus();
    const cache = new KeyCache(bus);
    const lastUsed = new LastUsedWriter(repos.keys, 60_000);
    const keys = new KeyService(repos, cache, bus, lastUsed);
    const issued = await keys.create({
      teamId: a.id,
      userId: u.id,
      name: 'app',
      scopes: ['inference'],
      models: null,
      expiresAt: null,
      createdBy: u.id,
    });
    expect(issued.secret).toMatch(/^crl_[A-Za-z0-9]{12}_[A-Za-z0-9]{40}$/);
    // Only the hash is stored.
    const raw = (await db.dataSource.query(`SELECT secret_hash FROM auth_api_keys WHERE id = $1`, [
      issued.key.id,
    ])) as { secret_hash: string }[];
    expect(raw[0]?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(raw)).not.toContain(issued.secret.split('_')[2]);

    expect(await repos.keys.findInTeam(b.id, issued.key.id)).toBeUndefined();
    expect(await repos.keys.revoke(b.id, issued.key.id)).toBeUndefined();
    expect((await repos.keys.listInTeams([b.id], {})).items).toEqual([]);
    expect((await repos.keys.listInTeams([a.id], {})).items.map((k) => k.name)).toEqual(['app']);

    const p = await keys.verify(issued.secret);
    expect(p).toMatchObject({ kind: 'key', teamId: a.id, userId: u.id, keyId: issued.key.id });
    expect([...p!.scopes]).toEqual(['inference']);
    expect(
      await keys.verify(issued.secret.slice(0, -1) + (issued.secret.endsWith('A') ? 'B' : 'A')),
    ).toBeUndefined();

    await lastUsed.close();
    expect((await repos.keys.findInTeam(a.id, issued.key.id))?.lastUsedAt).toBeInstanceOf(Date);

    // Revocation reaches the cache at once, not after its freshness window.
    expect(await keys.revoke(a.id, issued.key.id)).toBeDefined();
    expect(await keys.verify(issued.secret)).toBeUndefined();
  });

  it('rotates with a grace period and expires keys', async () => {
    const team = await repos.teams.create(newId('team'), 'Rotators');
    const bus = new LocalInvalidationBus();
    const keys = new KeyService(repos, new KeyCache(bus), bus, new LastUsedWriter(repos.keys, 60_000));
    const base = {
      teamId: team.id,
      userId: null,
      scopes: ['inference' as const],
      models: null,
      createdBy: null,
    };
    const k = await keys.create({ ...base, name: 'r', expiresAt: null });
    const rotated = await keys.rotate(team.id, k.key.id, 60);
    const now = Date.now();
    expect(await keys.verify(k.secret, now)).toBeDefined();
    expect(await keys.verify(rotated!.secret, now)).toBeDefined();
    expect(await keys.verify(k.secret, now + 61_000)).toBeUndefined();
    const hard = await keys.rotate(team.id, k.key.id, 0);
    expect(await keys.verify(rotated!.secret)).toBeUndefined();
    expect(await keys.verify(hard!.secret)).toBeDefined();

    const e = await keys.create({ ...base, name: 'e', expiresAt: new Date(Date.now() + 5_000) });
    expect(await keys.verify(e.secret)).toBeDefined();
    expect(await keys.verify(e.secret, Date.now() + 6_000)).toBeUndefined();
  });

  it('logs in with argon2id passwords and ends sessions', async () => {
    const hash = await hashPassword('violet-harbour-77');
    expect(hash).toMatch(/^\$argon2id\$/);
    const u = await user('login@example.com', { passwordHash: hash });
    const sessions = new SessionService(repos);
    await expect(sessions.login('login@example.com', 'wrong-password!')).rejects.toMatchObject({
      status: 401,
    });
    await expect(sessions.login('nobody@example.com', 'violet-harbour-77')).rejects.toMatchObject({
      status: 401,
    });
    const s = await sessions.login('LOGIN@example.com', 'violet-harbour-77');
    expect((await sessions.verify(s.token))?.userId).toBe(u.id);
    await repos.users.update(u.id, { disabled: true });
    expect(await sessions.verify(s.token)).toBeUndefined();
    await repos.users.update(u.id, { disabled: false });
    await sessions.logout(s.token);
    expect(await sessions.verify(s.token)).toBeUndefined();
  });

  // Last: it closes the database to simulate the outage.
  it('keeps cached keys valid through a database outage, and answers 503 for uncached ones', async () => {
    const team = await repos.teams.create(newId('team'), 'Outage');
    const bus = new LocalInvalidationBus();
    const cache = new KeyCache(bus, { freshMs: 0 });
    const keys = new KeyService(repos, cache, bus, new LastUsedWriter(repos.keys, 60_000));
    const base = {
      teamId: team.id,
      userId: null,
      scopes: ['inference' as const],
      models: null,
      createdBy: null,
    };
    const cached = await keys.create({ ...base, name: 'cached', expiresAt: null });
    const cold = await keys.create({ ...base, name: 'cold', expiresAt: null });
    expect(await keys.verify(cached.secret)).toBeDefined();
    await db.close();
    expect(await keys.verify(cached.secret)).toBeDefined();
    await expect(keys.verify(cold.secret)).rejects.toMatchObject({ code: 'unavailable', status: 503 });
  });
});

const redisUrl = process.env.REDIS_URL;
(redisUrl ? describe : describe.skip)('Redis invalidation bus', () => {
  it('delivers an invalidation to another gateway within a second', async () => {
    const channel = `corral-test:auth:${process.pid}:${Date.now()}`;
    const a = await RedisInvalidationBus.connect(redisUrl!, channel);
    const b = await RedisInvalidationBus.connect(redisUrl!, channel);
    try {
      const got = new Promise<string>((resolve) => b.subscribe(resolve));
      const t0 = Date.now();
      await a.publish('key123');
      expect(await got).toBe('key123');
      expect(Date.now() - t0).toBeLessThan(1000);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
if (!redisUrl) console.log('REDIS_URL not set: Redis invalidation bus test skipped');
