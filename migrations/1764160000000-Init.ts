import type { MigrationInterface, QueryRunner } from 'typeorm';

/** First migration: a key/value table for instance facts (instance id, first-start time). */
export class Init1764160000000 implements MigrationInterface {
  name = 'Init1764160000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE corral_instance (
      key text PRIMARY KEY,
      value jsonb NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(
      `INSERT INTO corral_instance (key, value) VALUES ('instance_id', to_jsonb(md5(random()::text || clock_timestamp()::text)))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE corral_instance');
  }
}
