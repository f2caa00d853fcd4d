import { Redis } from 'ioredis';
import { MemoryQuotaStore } from './memory-store';
import { RedisQuotaStore } from './redis-store';
import { quotaStoreContract } from './store.contract';

describe('MemoryQuotaStore', () => {
  quotaStoreContract(() => ({
    make: (opts) => Promise.resolve(new MemoryQuotaStore(opts)),
    cleanup: () => Promise.resolve(),
  }));
});

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('RedisQuotaStore', () => {
  const prefix = `test:quota:${process.pid}:${Date.now()}:`;
  const conns: Redis[] = [];
  quotaStoreContract(() => ({
    make: (opts) => {
      const r = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
      conns.push(r);
      return Promise.resolve(new RedisQuotaStore(r, { ...opts, keyPrefix: prefix }));
    },
    cleanup: async () => {
      const r = conns[0]!;
      const keys = await r.keys(`${prefix}*`);
      if (keys.length) await r.del(...keys);
      await Promise.all(conns.map((c) => c.quit()));
    },
  }));
});
