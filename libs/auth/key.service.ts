/**
 * API key lifecycle (create, verify, rotate, revoke). Secrets exist in clear only in the create and
 * rotate responses; the database holds their SHA-256.
 */
import { Logger } from '@nestjs/common';
import { CorralError } from '@corral/common';
import { formatApiKey, newKeyId, newKeySecret, parseApiKey, safeEqual, sha256Hex } from './credentials';
import type { ApiKey } from './auth.types';
import type { InvalidationBus } from './invalidation';
import { KeyCache, type CachedKey } from './key-cache';
import type { LastUsedWriter } from './last-used';
import type { Principal } from './principal';
import type { AuthRepositories, NewApiKey } from './repositories';
import type { Scope, TeamRole } from './scopes';

export interface CreateKeyInput {
  teamId: string;
  userId: string | null;
  name: string;
  scopes: Scope[];
  models: string[] | null;
  expiresAt: Date | null;
  createdBy: string | null;
}

export interface IssuedKey {
  key: ApiKey;
  /** The full `crl_…` key; shown once. */
  secret: string;
}

export class KeyService {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly repos: AuthRepositories,
    private readonly cache: KeyCache,
    private readonly bus: InvalidationBus,
    private readonly lastUsed: LastUsedWriter,
  ) {}

  async create(input: CreateKeyInput): Promise<IssuedKey> {
    const id = newKeyId();
    const secret = newKeySecret();
    const row: NewApiKey = { ...input, id, secretHash: sha256Hex(secret) };
    const key = await this.repos.keys.insert(row);
    return { key, secret: formatApiKey(id, secret) };
  }

  /**
   * Replaces the secret. The old one keeps working for `graceSeconds` (0: stops at once).
   * Undefined when the team has no such live key.
   */
  async rotate(teamId: string, id: string, graceSeconds: number): Promise<IssuedKey | undefined> {
    const secret = newKeySecret();
    const until = graceSeconds > 0 ? new Date(Date.now() + graceSeconds * 1000) : null;
    const key = await this.repos.keys.rotate(teamId, id, sha256Hex(secret), until);
    if (!key) return undefined;
    await this.bus.publish(id);
    return { key, secret: formatApiKey(id, secret) };
  }

  async revoke(teamId: string, id: string): Promise<ApiKey | undefined> {
    const key = await this.repos.keys.revoke(teamId, id);
    if (key) await this.bus.publish(id);
    return key;
  }

  /**
   * The caller a presented key stands for, or undefined when it is not a valid, live key (the
   * guard answers every such case with the same 401). Throws 503 only when the database is down
   * and nothing usable is cached.
   */
  async verify(raw: string, now = Date.now()): Promise<Principal | undefined> {
    const parsed = parseApiKey(raw);
    if (!parsed) return undefined;
    const entry = await this.load(parsed.id, now);
    const key = entry.key;
    const presented = sha256Hex(parsed.secret);
    // Both comparisons always run, so timing does not tell current from previous secrets.
    const current = safeEqual(presented, key?.secretHash ?? '0'.repeat(64));
    const previous = safeEqual(presented, key?.previousSecretHash ?? '1'.repeat(64));
    if (!key) return undefined;
    const inGrace = previous && key.previousValidUntil !== null && key.previousValidUntil.getTime() > now;
    if (!current && !inGrace) return undefined;
    if (key.revokedAt && key.revokedAt.getTime() <= now) return undefined;
    if (key.expiresAt && key.expiresAt.getTime() <= now) return undefined;
    if (entry.owner?.disabled) return undefined;
    this.lastUsed.record(key.id, new Date(now));
    return keyPrincipal(key, entry.owner?.globalRole ?? null);
  }

  private async load(id: string, now: number): Promise<CachedKey> {
    const cached = this.cache.get(id);
    if (cached && this.cache.isFresh(cached, now)) return cached;
    try {
      const key = await this.repos.keys.findForVerification(id);
      let owner: CachedKey['owner'] = null;
      if (key?.userId) {
        const user = await this.repos.users.findById(key.userId);
        owner = { globalRole: user?.globalRole ?? null, disabled: !user || user.disabledAt !== null };
      }
      const entry: CachedKey = { key, owner, loadedAt: now };
      this.cache.set(id, entry);
      return entry;
    } catch (e) {
      if (cached && this.cache.isUsableStale(cached, now)) {
        this.logger.warn(`database unavailable, using cached verification of key ${id}`);
        return cached;
      }
      this.logger.error(`key verification failed: ${(e as Error).message}`);
      throw new CorralError('unavailable', 'authentication is temporarily unavailable; retry shortly');
    }
  }
}

/**
 * A key acts within its team. With the `admin` scope it manages that team as an owner does, and a
 * key whose user is a global admin or auditor carries that role.
 */
export function keyPrincipal(key: ApiKey, userRole: Principal['globalRole']): Principal {
  const scopes = new Set(key.scopes);
  const role: TeamRole = scopes.has('admin') ? 'owner' : 'member';
  return {
    kind: 'key',
    userId: key.userId,
    keyId: key.id,
    teamId: key.teamId,
    globalRole: scopes.has('admin') ? userRole : userRole === 'auditor' ? 'auditor' : null,
    teamRoles: { [key.teamId]: role },
    scopes,
    models: key.models,
  };
}
