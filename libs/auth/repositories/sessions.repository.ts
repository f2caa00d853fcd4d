import { sessionFromRow, type Session } from '../auth.types';
import type { Query } from './sql';

/** Console sessions, stored by the SHA-256 of their token. */
export class SessionsRepository {
  constructor(private readonly q: Query) {}

  async create(s: Omit<Session, 'createdAt'>): Promise<void> {
    await this.q(
      `INSERT INTO auth_sessions (token_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)`,
      [s.tokenHash, s.userId, s.csrfToken, s.expiresAt],
    );
  }

  async find(tokenHash: string): Promise<Session | undefined> {
    const [row] = await this.q(`SELECT * FROM auth_sessions WHERE token_hash = $1 AND expires_at > now()`, [
      tokenHash,
    ]);
    return row ? sessionFromRow(row) : undefined;
  }

  async delete(tokenHash: string): Promise<void> {
    await this.q(`DELETE FROM auth_sessions WHERE token_hash = $1`, [tokenHash]);
  }

  async deleteForUser(userId: string): Promise<void> {
    await this.q(`DELETE FROM auth_sessions WHERE user_id = $1`, [userId]);
  }

  async deleteExpired(): Promise<void> {
    await this.q(`DELETE FROM auth_sessions WHERE expires_at <= now()`);
  }
}
