import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Quota policies per team and per API key. team_id/key_id are plain text: the identity tables may
 * live elsewhere or arrive later, and a policy for a deleted key is harmless. The checks repeat
 * the API's validation so a hand-edited row cannot make counters misbehave.
 */
const LIMIT_COLUMNS = `
  requests_per_minute bigint CHECK (requests_per_minute >= 0),
  tokens_per_minute bigint CHECK (tokens_per_minute >= 0),
  concurrent_requests bigint CHECK (concurrent_requests >= 0),
  daily_tokens bigint CHECK (daily_tokens >= 0),
  monthly_tokens bigint CHECK (monthly_tokens >= 0),
  max_tokens_per_request bigint CHECK (max_tokens_per_request >= 0),
  allowed_models text[],
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text`;

export class QuotaPolicies1764400000000 implements MigrationInterface {
  name = 'QuotaPolicies1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE quota_team_policy (
      team_id text PRIMARY KEY,
      weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0),
      ${LIMIT_COLUMNS}
    )`);
    await q.query(`CREATE TABLE quota_key_policy (
      key_id text PRIMARY KEY,
      priority text NOT NULL DEFAULT 'interactive' CHECK (priority IN ('interactive', 'batch')),
      ${LIMIT_COLUMNS}
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE quota_key_policy');
    await q.query('DROP TABLE quota_team_policy');
  }
}
