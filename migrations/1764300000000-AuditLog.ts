import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit log: hash-chained events (append-only by trigger), signed checkpoints, export records
 * that retention must write before it may prune, and captured content kept apart from events.
 */
export class AuditLog1764300000000 implements MigrationInterface {
  name = 'AuditLog1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE audit_events (
      seq bigint PRIMARY KEY,
      event_id uuid NOT NULL UNIQUE,
      time timestamptz NOT NULL,
      request_id text,
      actor_type text NOT NULL,
      actor_id text,
      team_id text,
      action text NOT NULL,
      resource text,
      route text,
      model text,
      status integer NOT NULL,
      error_code text,
      prompt_tokens integer,
      completion_tokens integer,
      duration_ms integer,
      client_address text,
      user_agent text,
      details jsonb,
      prev_hash text NOT NULL,
      hash text NOT NULL
    )`);
    await q.query(`CREATE INDEX audit_events_time ON audit_events (time)`);
    await q.query(`CREATE INDEX audit_events_team ON audit_events (team_id, seq)`);
    await q.query(`CREATE INDEX audit_events_actor ON audit_events (actor_id, seq)`);
    await q.query(`CREATE INDEX audit_events_action ON audit_events (action, seq)`);
    await q.query(`CREATE INDEX audit_events_hash ON audit_events (hash)`);
    await q.query(`CREATE TABLE audit_checkpoints (
      seq bigint PRIMARY KEY,
      hash text NOT NULL,
      time timestamptz NOT NULL,
      key_id text NOT NULL,
      signature text NOT NULL
    )`);
    await q.query(`CREATE TABLE audit_exports (
      last_seq bigint PRIMARY KEY,
      first_seq bigint NOT NULL,
      file text NOT NULL,
      sha256 text NOT NULL,
      exported_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE audit_content (
      event_id uuid PRIMARY KEY,
      team_id text NOT NULL,
      time timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      prompt jsonb,
      response jsonb
    )`);
    await q.query(`CREATE INDEX audit_content_expiry ON audit_content (expires_at)`);
    await q.query(`CREATE TABLE audit_content_policies (
      team_id text PRIMARY KEY,
      capture boolean NOT NULL DEFAULT false,
      retention_days integer NOT NULL DEFAULT 30,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    // Append-only: only audit_prune_segment (which sets the transaction-local flag) may delete.
    await q.query(`CREATE FUNCTION audit_append_only() RETURNS trigger AS $$
      BEGIN
        IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_events'
           AND current_setting('corral.audit_prune', true) = 'on' THEN
          RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
          USING ERRCODE = '42501';
      END $$ LANGUAGE plpgsql`);
    for (const t of ['audit_events', 'audit_checkpoints']) {
      await q.query(`CREATE TRIGGER ${t}_append_only BEFORE UPDATE OR DELETE ON ${t}
        FOR EACH ROW EXECUTE FUNCTION audit_append_only()`);
      await q.query(`CREATE TRIGGER ${t}_no_truncate BEFORE TRUNCATE ON ${t}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`);
    }
    // Retention deletes whole segments (up to a checkpoint) that an export row says were saved.
    await q.query(`CREATE FUNCTION audit_prune_segment(upto bigint) RETURNS bigint AS $$
      DECLARE n bigint;
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE seq = upto) THEN
          RAISE EXCEPTION 'audit retention: seq % is not a checkpoint', upto;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM audit_exports WHERE last_seq >= upto
                       AND first_seq <= COALESCE((SELECT min(seq) FROM audit_events), upto)) THEN
          RAISE EXCEPTION 'audit retention: events up to seq % were not exported', upto;
        END IF;
        PERFORM set_config('corral.audit_prune', 'on', true);
        DELETE FROM audit_events WHERE seq <= upto;
        GET DIAGNOSTICS n = ROW_COUNT;
        PERFORM set_config('corral.audit_prune', 'off', true);
        RETURN n;
      END $$ LANGUAGE plpgsql`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP FUNCTION audit_prune_segment(bigint)');
    await q.query('DROP TABLE audit_content_policies');
    await q.query('DROP TABLE audit_content');
    await q.query('DROP TABLE audit_exports');
    await q.query('DROP TABLE audit_checkpoints');
    await q.query('DROP TABLE audit_events');
    await q.query('DROP FUNCTION audit_append_only()');
  }
}
