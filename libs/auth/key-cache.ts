/**
 * Verified keys, cached so a request does not hit the database. An entry is trusted for `freshMs`;
 * after that it is re-read, and if the database cannot answer, an entry younger than `staleMs` is
 * used anyway (an outage must not turn valid keys into 401s). Revocation and rotation invalidate
 * entries through the InvalidationBus, so they take effect at once, not after `freshMs`.
 */
import type { ApiKey } from './auth.types';
import type { GlobalRole } from './scopes';
import type { InvalidationBus } from './invalidation';

export interface KeyOwner {
  globalRole: GlobalRole | null;
  disabled: boolean;
}

export interface CachedKey {
  /** undefined: no such key (cached too, so garbage ids do not reach the database each time). */
  key: ApiKey | undefined;
  owner: KeyOwner | null;
  loadedAt: number;
}

export interface KeyCacheOptions {
  /** How long an entry is used without re-reading it. Defaults to 10000 ms. */
  freshMs?: number;
  /** How long an entry may serve while the database is unreachable. Defaults to 900000 ms. */
  staleMs?: number;
  /** Most entries kept. Defaults to 10000. */
  maxEntries?: number;
}

export class KeyCache {
  private readonly entries = new Map<string, CachedKey>();
  readonly freshMs: number;
  readonly staleMs: number;
  private readonly maxEntries: number;

  constructor(bus: InvalidationBus, opts: KeyCacheOptions = {}) {
    this.freshMs = opts.freshMs ?? 10_000;
    this.staleMs = opts.staleMs ?? 900_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    bus.subscribe((target) => {
      if (target === '*') this.entries.clear();
      else this.entries.delete(target);
    });
  }

  get(id: string): CachedKey | undefined {
    return this.entries.get(id);
  }

  isFresh(e: CachedKey, now = Date.now()): boolean {
    return now - e.loadedAt < this.freshMs;
  }

  isUsableStale(e: CachedKey, now = Date.now()): boolean {
    return now - e.loadedAt < this.staleMs;
  }

  set(id: string, e: CachedKey): void {
    this.entries.delete(id);
    this.entries.set(id, e);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
