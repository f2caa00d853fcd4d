import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Captured content carries its request id too, so it joins the request's audit event by
 * `event_id` or by `request_id` (the run observer may see a run after its request event was
 * written, and then links content to an event of its own with the same request id).
 */
export class AuditContentRequest1764420000000 implements MigrationInterface {
  name = 'AuditContentRequest1764420000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_content ADD COLUMN request_id text`);
    await q.query(`CREATE INDEX audit_content_request ON audit_content (request_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX audit_content_request`);
    await q.query(`ALTER TABLE audit_content DROP COLUMN request_id`);
  }
}
