/**
 * Console sessions: password login issues a random token (cookie) and a CSRF token (returned in the
 * body, sent back in `x-csrf-token` on unsafe methods); the database stores the token's SHA-256.
 */
import { CorralError } from '@corral/common';
import { newSessionToken, randomBase62, sha256Hex } from './credentials';
import type { User } from './auth.types';
import { verifyPassword } from './password';
import { ALL_SCOPES, type Principal } from './principal';
import type { AuthRepositories } from './repositories';
import type { TeamRole } from './scopes';

export const SESSION_COOKIE = 'corral_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface LoginResult {
  token: string;
  csrfToken: string;
  expiresAt: Date;
  user: User;
}

/** A valid argon2id hash of nothing anyone knows: unknown emails cost the same time as wrong passwords. */
const DUMMY_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9E1wvZ6mBVUo6sQ0rGpBuu+Q7gQ6ZyHPv3F0a1hQq5U';

export class SessionService {
  /** @param ttlMs Session lifetime. Defaults to 12 hours. */
  constructor(
    private readonly repos: AuthRepositories,
    private readonly ttlMs = 12 * 3600_000,
  ) {}

  async login(email: string, password: string): Promise<LoginResult> {
    const user = await this.repos.users.findByEmail(email);
    const ok = await verifyPassword(user?.passwordHash ?? DUMMY_HASH, password);
    if (!user || !ok || !user.passwordHash || user.disabledAt) {
      throw new CorralError('unauthorized', 'invalid email or password');
    }
    const token = newSessionToken();
    const csrfToken = randomBase62(32);
    const expiresAt = new Date(Date.now() + this.ttlMs);
    await this.repos.sessions.create({ tokenHash: sha256Hex(token), userId: user.id, csrfToken, expiresAt });
    return { token, csrfToken, expiresAt, user };
  }

  // --- oidc: a session for a user the identity provider has already authenticated ---
  /** Same token, CSRF token and lifetime as `login`, without a password check (the caller did one). */
  async createFor(user: User): Promise<LoginResult> {
    if (user.disabledAt) throw new CorralError('forbidden', 'this account is disabled');
    const token = newSessionToken();
    const csrfToken = randomBase62(32);
    const expiresAt = new Date(Date.now() + this.ttlMs);
    await this.repos.sessions.create({ tokenHash: sha256Hex(token), userId: user.id, csrfToken, expiresAt });
    return { token, csrfToken, expiresAt, user };
  }
  // --- end oidc ---

  async logout(token: string): Promise<void> {
    await this.repos.sessions.delete(sha256Hex(token));
  }

  /** The session's caller, or undefined for an unknown, expired or disabled one. */
  async verify(token: string): Promise<Principal | undefined> {
    const session = await this.repos.sessions.find(sha256Hex(token));
    if (!session) return undefined;
    const user = await this.repos.users.findById(session.userId);
    if (!user || user.disabledAt) return undefined;
    const memberships = await this.repos.teams.membershipsOfUser(user.id);
    const teamRoles: Record<string, TeamRole> = {};
    for (const m of memberships) teamRoles[m.teamId] = m.role;
    return {
      kind: 'session',
      userId: user.id,
      teamId: null,
      globalRole: user.globalRole,
      teamRoles,
      scopes: ALL_SCOPES,
      models: null,
      csrfToken: session.csrfToken,
    };
  }
}
