import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Who owns a model name (docs/models.md, "Who owns a model"). Keyed by the normalized full name
 * (`registry.ollama.ai/library/tiny:latest`); `team_id` null is a shared model. A name on disk
 * without a row is shared too (models from before this table).
 *
 * `team_id` has no foreign key on purpose: deleting a team must not turn its models into shared
 * ones (ON DELETE CASCADE or SET NULL would); they stay owned by the gone team, visible only to
 * global admins, until an admin deletes them.
 */
export class ModelOwners1764500000000 implements MigrationInterface {
  name = 'ModelOwners1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE model_owners (
      name_key text PRIMARY KEY,
      team_id text,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX model_owners_team ON model_owners (team_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE model_owners`);
  }
}
