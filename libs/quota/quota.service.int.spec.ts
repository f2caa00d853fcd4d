/**
 * Policy edits across gateways on a real Redis (REDIS_URL, default redis://127.0.0.1:6379): one
 * gateway publishes, another's policy cache drops the stale entry and reads the new policy.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { TeamPolicy } from './policy';
import { PolicyCache, type PolicySource } from './policy-cache';
import { RedisPolicyNotifier } from './policy-notifier';

describe('QuotaService', () => {
  it('propagates a policy edit to another gateway over Redis pub/sub within a second', async () => {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const channel = `test:quota:policy:${process.pid}:${Date.now()}`;
    const a = new Redis(url);
    const b = new Redis(url);
    const na = new RedisPolicyNotifier(a, { channel });
    const nb = new RedisPolicyNotifier(b, { channel });
    try {
      await Promise.all([na.whenReady(), nb.whenReady()]);
      // The policy table behind the cache, in memory.
      const teams = new Map<string, TeamPolicy>();
      const table: PolicySource = {
        team: (id) => Promise.resolve(teams.get(id)),
        key: () => Promise.resolve(undefined),
      };
      teams.set('t', { requestsPerMinute: 1000 });
      const cacheB = new PolicyCache(table, nb);
      expect(await cacheB.team('t')).toEqual({ requestsPerMinute: 1000 });
      teams.set('t', { requestsPerMinute: 5 });
      const sent = Date.now();
      await na.publish({ kind: 'team', id: 't' });
      while ((await cacheB.team('t'))?.requestsPerMinute !== 5 && Date.now() - sent < 1000) await sleep(10);
      expect((await cacheB.team('t'))?.requestsPerMinute).toBe(5);
      expect(Date.now() - sent).toBeLessThan(1000);
      cacheB.close();
    } finally {
      await na.close();
      await nb.close();
      await a.quit();
      await b.quit();
    }
  });
});
