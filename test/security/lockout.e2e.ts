/**
 * Failed authentications must not lock out the right credential (security issue 4). Before the
 * fix, ten wrong secrets naming a key's public id (no credentials needed) made the real key answer
 * 429 for 60 s, renewable forever, and 30 failures from one address locked every valid key out from
 * that address (everyone behind a NAT). Now a correct key always works; the failing source is
 * counted, slowed, answered 429 and audited. Password login is limited per account and address, so
 * a guesser elsewhere cannot lock the real user out.
 * Each "client" is its own loopback source address (127.0.0.x), as distinct machines would be.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startCorral, type CorralProcess } from '@corral/testing';
import { send } from './browser-http';

jest.setTimeout(180_000);

describe('failed authentications never lock out the right credential', () => {
  let corral: CorralProcess;
  let victim: { id: string; key: string };
  let other: { id: string; key: string };
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const admin = () => bearer(corral.key);
  const tags = (key: string, from: string) => send(corral.url, '/api/tags', { headers: bearer(key), from });

  beforeAll(async () => {
    corral = await startCorral();
    const team = (await send(corral.url, '/admin/v1/teams', { headers: admin() })).json.data[0].id as string;
    const mk = async (name: string) => {
      const r = await send(corral.url, '/admin/v1/keys', {
        headers: { ...admin(), 'content-type': 'application/json' },
        body: JSON.stringify({ team_id: team, name, scopes: ['models:read'] }),
      });
      expect(r.status).toBe(201);
      return r.json as { id: string; key: string };
    };
    victim = await mk('victim');
    other = await mk('other');
  });
  afterAll(() => corral?.stop());

  it('keeps a key working after many wrong secrets naming its id', async () => {
    const wrong = `crl_${victim.id}_${'x'.repeat(40)}`;
    const statuses: number[] = [];
    // From several addresses, as a distributed attacker would.
    for (let i = 0; i < 14; i++) statuses.push((await tags(wrong, `127.0.0.${10 + (i % 3)}`)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(4).fill(429));
    const throttled = await tags(wrong, '127.0.0.13');
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(throttled.json.error).toMatch(/too many failed authentication attempts; retry in \d+s/);
    // The real key, from the attacker's addresses and from elsewhere, at once and repeatedly.
    for (const from of ['127.0.0.10', '127.0.0.11', '127.0.0.20']) {
      const r = await tags(victim.key, from);
      expect({ from, status: r.status }).toEqual({ from, status: 200 });
    }
  });

  it('keeps valid keys working from an address that failed 30+ times', async () => {
    const nat = '127.0.0.30';
    const statuses: number[] = [];
    for (let i = 0; i < 33; i++) statuses.push((await tags(`garbage-${i}`, nat)).status);
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(statuses.slice(30)).toEqual(Array(3).fill(429));
    // Throttled failures are slowed (bounded: the limiter holds few answers back at once).
    const t0 = Date.now();
    expect((await tags('garbage-again', nat)).status).toBe(429);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    // A request without credentials guesses nothing: still the plain 401 that says why.
    expect((await send(corral.url, '/api/tags', { from: nat })).status).toBe(401);
    // Everyone else behind that address: their keys work, without delay.
    for (const key of [other.key, victim.key, corral.key]) {
      const t1 = Date.now();
      expect((await tags(key, nat)).status).toBe(200);
      expect(Date.now() - t1).toBeLessThan(400);
    }
  });

  it('audits the failures, throttled ones included', async () => {
    type Event = {
      outcome: { status: number };
      client_address: string;
      details: Record<string, unknown> | null;
    };
    let events: Event[] = [];
    for (
      let i = 0;
      i < 50 && !events.some((e) => e.outcome.status === 429 && e.client_address === '127.0.0.30');
      i++
    ) {
      await sleep(200);
      const r = await send(corral.url, '/admin/v1/audit?action=auth.failure&limit=500', { headers: admin() });
      events = r.json.data as Event[];
    }
    const from = (addr: string, status: number) =>
      events.filter((e) => e.client_address === addr && e.outcome.status === status);
    // 30 presented credentials that failed, and the one request that presented none.
    expect(from('127.0.0.30', 401)).toHaveLength(31);
    expect(from('127.0.0.30', 401).filter((e) => e.details === null)).toHaveLength(1);
    expect(from('127.0.0.30', 429).length).toBeGreaterThanOrEqual(4);
    expect(from('127.0.0.30', 429)[0]?.details).toMatchObject({ throttled: true });
    // Failures naming a key id say which key was attacked.
    const named = events.filter((e) => e.details?.key_id === victim.id);
    expect(named.length).toBeGreaterThanOrEqual(15);
    expect(named.filter((e) => e.outcome.status === 429).length).toBeGreaterThanOrEqual(5);
  });

  it('limits password guessing per account and address, not per account', async () => {
    const email = 'olive@example.com';
    const password = 'tangerine-zeppelin-42';
    const made = await send(corral.url, '/admin/v1/users', {
      headers: { ...admin(), 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(made.status).toBe(201);
    const login = (pw: string, from: string) =>
      send(corral.url, '/auth/login', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: pw }),
        from,
      });
    const guesser = '127.0.0.40';
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await login(`wrong-guess-${i}`, guesser)).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    // Passwords can be guessed: from the guessing address even the right one waits out the window.
    expect((await login(password, guesser)).status).toBe(429);
    // The real user, from anywhere else, signs in.
    const real = await login(password, '127.0.0.41');
    expect(real.status).toBe(200);
    expect(real.json.csrf_token).toEqual(expect.any(String));
  });
});
