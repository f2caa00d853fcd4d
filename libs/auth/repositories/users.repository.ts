import { userFromRow, type ExternalIdentity, type User } from '../auth.types';
import type { GlobalRole } from '../scopes';
import { pageClause, toPage, uniqueOr409, whereSql, type Page, type PageRequest, type Query } from './sql';

export interface NewUser {
  id: string;
  email: string;
  name: string;
  passwordHash: string | null;
  globalRole: GlobalRole | null;
}

export interface UserFilter extends PageRequest {
  /** Substring of the email, case-insensitive. */
  email?: string;
  globalRole?: GlobalRole;
}

export interface UserPatch {
  name?: string;
  passwordHash?: string | null;
  globalRole?: GlobalRole | null;
  disabled?: boolean;
}

/** Users are global (not per team): only admins list or change them. */
export class UsersRepository {
  constructor(private readonly q: Query) {}

  async create(u: NewUser): Promise<User> {
    const [row] = await uniqueOr409(`a user with email '${u.email}'`, () =>
      this.q(
        `INSERT INTO auth_users (id, email, name, password_hash, global_role) VALUES ($1, $2, $3, $4, $5)
         RETURNING *`,
        [u.id, u.email, u.name, u.passwordHash, u.globalRole],
      ),
    );
    return userFromRow(row!);
  }

  async findById(id: string): Promise<User | undefined> {
    const [row] = await this.q(`SELECT * FROM auth_users WHERE id = $1`, [id]);
    return row ? userFromRow(row) : undefined;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const [row] = await this.q(`SELECT * FROM auth_users WHERE lower(email) = lower($1)`, [email]);
    return row ? userFromRow(row) : undefined;
  }

  async list(filter: UserFilter): Promise<Page<User>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.email) {
      params.push(`%${filter.email.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c)}%`);
      where.push(`lower(email) LIKE $${params.length}`);
    }
    if (filter.globalRole) {
      params.push(filter.globalRole);
      where.push(`global_role = $${params.length}`);
    }
    const { order, limit } = pageClause(filter, where, params);
    const rows = await this.q(`SELECT * FROM auth_users ${whereSql(where)} ${order}`, params);
    return toPage(rows.map(userFromRow), limit, (u) => u.id);
  }

  async update(id: string, patch: UserPatch): Promise<User | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    const set = (col: string, v: unknown) => {
      params.push(v);
      sets.push(`${col} = $${params.length}`);
    };
    if (patch.name !== undefined) set('name', patch.name);
    if (patch.passwordHash !== undefined) set('password_hash', patch.passwordHash);
    if (patch.globalRole !== undefined) set('global_role', patch.globalRole);
    if (patch.disabled !== undefined) sets.push(`disabled_at = ${patch.disabled ? 'now()' : 'NULL'}`);
    sets.push('updated_at = now()');
    const [row] = await this.q(`UPDATE auth_users SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, params);
    return row ? userFromRow(row) : undefined;
  }

  async count(): Promise<number> {
    const [row] = await this.q(`SELECT count(*)::int AS n FROM auth_users`);
    return Number(row?.n ?? 0);
  }

  /** Links an external login (OIDC issuer + subject) to a user; 409 when it is linked already. */
  async linkIdentity(identity: ExternalIdentity): Promise<void> {
    await uniqueOr409('that external identity', () =>
      this.q(`INSERT INTO auth_identities (issuer, subject, user_id) VALUES ($1, $2, $3)`, [
        identity.issuer,
        identity.subject,
        identity.userId,
      ]),
    );
  }

  async findByIdentity(issuer: string, subject: string): Promise<User | undefined> {
    const [row] = await this.q(
      `SELECT u.* FROM auth_users u JOIN auth_identities i ON i.user_id = u.id
       WHERE i.issuer = $1 AND i.subject = $2`,
      [issuer, subject],
    );
    return row ? userFromRow(row) : undefined;
  }
}
