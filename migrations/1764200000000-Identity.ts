import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Identity: users, external identities (OIDC issuer + subject, linked later), teams, memberships,
 * API keys (secrets stored only as SHA-256) and console sessions (tokens stored only as SHA-256).
 */
export class Identity1764200000000 implements MigrationInterface {
  name = 'Identity1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE auth_users (
      id text PRIMARY KEY,
      email text NOT NULL,
      name text NOT NULL DEFAULT '',
      password_hash text,
      global_role text CHECK (global_role IN ('admin', 'auditor')),
      disabled_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE UNIQUE INDEX auth_users_email ON auth_users (lower(email))`);
    await q.query(`CREATE TABLE auth_identities (
      issuer text NOT NULL,
      subject text NOT NULL,
      user_id text NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (issuer, subject)
    )`);
    await q.query(`CREATE TABLE auth_teams (
      id text PRIMARY KEY,
      name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE UNIQUE INDEX auth_teams_name ON auth_teams (lower(name))`);
    await q.query(`CREATE TABLE auth_memberships (
      team_id text NOT NULL REFERENCES auth_teams(id) ON DELETE CASCADE,
      user_id text NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
      role text NOT NULL CHECK (role IN ('owner', 'member', 'viewer')),
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (team_id, user_id)
    )`);
    await q.query(`CREATE INDEX auth_memberships_user ON auth_memberships (user_id)`);
    await q.query(`CREATE TABLE auth_api_keys (
      id text PRIMARY KEY,
      team_id text NOT NULL REFERENCES auth_teams(id) ON DELETE CASCADE,
      user_id text REFERENCES auth_users(id) ON DELETE SET NULL,
      name text NOT NULL,
      secret_hash text NOT NULL,
      previous_secret_hash text,
      previous_valid_until timestamptz,
      scopes text[] NOT NULL,
      models text[],
      expires_at timestamptz,
      last_used_at timestamptz,
      revoked_at timestamptz,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE UNIQUE INDEX auth_api_keys_team_name ON auth_api_keys (team_id, lower(name))
      WHERE revoked_at IS NULL`);
    await q.query(`CREATE INDEX auth_api_keys_team ON auth_api_keys (team_id, created_at, id)`);
    await q.query(`CREATE TABLE auth_sessions (
      token_hash text PRIMARY KEY,
      user_id text NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
      csrf_token text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX auth_sessions_user ON auth_sessions (user_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE auth_sessions');
    await q.query('DROP TABLE auth_api_keys');
    await q.query('DROP TABLE auth_memberships');
    await q.query('DROP TABLE auth_teams');
    await q.query('DROP TABLE auth_identities');
    await q.query('DROP TABLE auth_users');
  }
}
