import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Usage accounting: one raw row per request in a table partitioned by month (old months are
 * detached or dropped whole, and queries over a range touch only its months), plus hourly rollups
 * per team, key, user and model that every /admin/v1/usage query reads. The writer creates each
 * month's partition before writing into it; the default partition catches anything else so no
 * record is ever refused.
 */
export class UsageAccounting1764400000001 implements MigrationInterface {
  name = 'UsageAccounting1764400000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE usage_record (
      ts timestamptz NOT NULL,
      request_id text NOT NULL,
      team_id text,
      key_id text,
      user_id text,
      model text NOT NULL,
      prompt_tokens integer NOT NULL CHECK (prompt_tokens >= 0),
      completion_tokens integer NOT NULL CHECK (completion_tokens >= 0),
      ttft_ms integer CHECK (ttft_ms >= 0),
      duration_ms integer NOT NULL CHECK (duration_ms >= 0),
      status text NOT NULL,
      PRIMARY KEY (ts, request_id)
    ) PARTITION BY RANGE (ts)`);
    await q.query('CREATE TABLE usage_record_default PARTITION OF usage_record DEFAULT');
    // Drill-down from a rollup to the requests behind it: who/what, then time.
    for (const col of ['team_id', 'key_id', 'user_id', 'model'])
      await q.query(`CREATE INDEX usage_record_${col}_ts ON usage_record (${col}, ts)`);
    await q.query(`CREATE TABLE usage_hourly (
      hour timestamptz NOT NULL,
      team_id text NOT NULL DEFAULT '',
      key_id text NOT NULL DEFAULT '',
      user_id text NOT NULL DEFAULT '',
      model text NOT NULL,
      requests bigint NOT NULL DEFAULT 0,
      errors bigint NOT NULL DEFAULT 0,
      prompt_tokens bigint NOT NULL DEFAULT 0,
      completion_tokens bigint NOT NULL DEFAULT 0,
      duration_ms bigint NOT NULL DEFAULT 0,
      ttft_ms_sum bigint NOT NULL DEFAULT 0,
      ttft_count bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (hour, team_id, key_id, user_id, model)
    )`);
    for (const col of ['team_id', 'key_id', 'user_id', 'model'])
      await q.query(`CREATE INDEX usage_hourly_${col}_hour ON usage_hourly (${col}, hour)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE usage_hourly');
    await q.query('DROP TABLE usage_record');
  }
}
