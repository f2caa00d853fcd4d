/**
 * Policies for admission without a database round trip per request: cached per team and key,
 * dropped the moment a change notice arrives (so an edit applies within a second on every
 * gateway), and re-read after `ttlMs` in case a notice was lost.
 */
import type { KeyPolicy, TeamPolicy } from './policy';
import type { PolicyChange, PolicyNotifier } from './policy-notifier';

/** Where admission reads policies from. */
export interface PolicySource {
  team(teamId: string): Promise<TeamPolicy | undefined>;
  key(keyId: string): Promise<KeyPolicy | undefined>;
}

export interface PolicyCacheOptions {
  /** Re-read a cached policy after this long even without a change notice. Defaults to 30 s. */
  ttlMs?: number;
  now?: () => number;
}

interface Slot<T> {
  value: Promise<T | undefined>;
  at: number;
}

export class PolicyCache implements PolicySource {
  private readonly teams = new Map<string, Slot<TeamPolicy>>();
  private readonly keys = new Map<string, Slot<KeyPolicy>>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly source: PolicySource,
    notifier: PolicyNotifier,
    opts: PolicyCacheOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    this.unsubscribe = notifier.subscribe((c) => this.invalidate(c));
  }

  invalidate(c: PolicyChange): void {
    (c.kind === 'team' ? this.teams : this.keys).delete(c.id);
  }

  team(teamId: string): Promise<TeamPolicy | undefined> {
    return this.get(this.teams, teamId, () => this.source.team(teamId));
  }

  key(keyId: string): Promise<KeyPolicy | undefined> {
    return this.get(this.keys, keyId, () => this.source.key(keyId));
  }

  close(): void {
    this.unsubscribe();
  }

  private get<T>(
    map: Map<string, Slot<T>>,
    id: string,
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const now = this.now();
    const hit = map.get(id);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const slot: Slot<T> = { value: load(), at: now };
    map.set(id, slot);
    // A failed read is not cached: the next request tries the database again.
    slot.value.catch(() => map.get(id) === slot && map.delete(id));
    return slot.value;
  }
}

/** A PolicySource over the repository. */
export function repositorySource(repo: {
  getTeam(id: string): Promise<TeamPolicy | undefined>;
  getKey(id: string): Promise<KeyPolicy | undefined>;
}): PolicySource {
  return { team: (id) => repo.getTeam(id), key: (id) => repo.getKey(id) };
}
