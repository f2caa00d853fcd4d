import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Knowledge bases (docs/knowledge.md). Every table carries `team_id` so every query that reads a
 * base's content filters by team inside the SQL, never afterwards.
 *
 * - `kb_files`: uploads (`/v1/files`), the bytes kept in the database so every gateway replica (and
 *   a re-index months later) reads the same content.
 * - `knowledge_bases` point at their active index generation; `kb_generations` records what each
 *   generation was built with (embedding model digest, vector dimension, chunking, language) and the
 *   BM25 statistics of its chunks (N and total length).
 * - `kb_documents`: a file in a base, with the status users see; `kb_jobs`: one ingestion job per
 *   (document, generation), claimed with a lease so a killed gateway's job is picked up again.
 * - `kb_chunks`: text, position (heading path, pages, character offsets), the tsvector the lexical
 *   index is built from and its length; `embedding` when pgvector is installed. `kb_postings`: the
 *   lexical index (lexeme → chunk, tf, length), written in the same transaction as the chunks;
 *   BM25's document frequencies are counted from it at query time, so they are always exact.
 */
export class Knowledge1765000000000 implements MigrationInterface {
  name = 'Knowledge1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE kb_files (
      id text PRIMARY KEY,
      team_id text NOT NULL,
      filename text NOT NULL,
      purpose text NOT NULL,
      bytes integer NOT NULL,
      sha256 text NOT NULL,
      content bytea NOT NULL,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX kb_files_team ON kb_files (team_id, created_at DESC)`);

    await q.query(`CREATE TABLE knowledge_bases (
      id text PRIMARY KEY,
      team_id text NOT NULL,
      name text NOT NULL,
      description text,
      metadata jsonb NOT NULL DEFAULT '{}',
      settings jsonb NOT NULL,
      active_generation integer NOT NULL DEFAULT 1,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      last_active_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX knowledge_bases_team ON knowledge_bases (team_id, created_at DESC)`);

    await q.query(`CREATE TABLE kb_generations (
      kb_id text NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
      generation integer NOT NULL,
      team_id text NOT NULL,
      status text NOT NULL,
      embedding_model text,
      model_digest text,
      dimension integer,
      chunking jsonb NOT NULL,
      language text NOT NULL,
      chunk_count bigint NOT NULL DEFAULT 0,
      total_length bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      PRIMARY KEY (kb_id, generation)
    )`);

    await q.query(`CREATE TABLE kb_documents (
      kb_id text NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
      id text NOT NULL,
      team_id text NOT NULL,
      filename text NOT NULL,
      detected_type text,
      bytes integer NOT NULL,
      sha256 text NOT NULL,
      attributes jsonb NOT NULL DEFAULT '{}',
      chunking jsonb,
      batch_id text,
      status text NOT NULL,
      stage text,
      reason text,
      error_code text,
      pages integer,
      chunk_count integer NOT NULL DEFAULT 0,
      usage_bytes bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (kb_id, id)
    )`);
    await q.query(`CREATE INDEX kb_documents_team ON kb_documents (team_id, kb_id, created_at DESC)`);
    await q.query(`CREATE INDEX kb_documents_batch ON kb_documents (kb_id, batch_id)`);

    await q.query(`CREATE TABLE kb_jobs (
      id bigserial PRIMARY KEY,
      team_id text NOT NULL,
      kb_id text NOT NULL,
      document_id text NOT NULL,
      generation integer NOT NULL,
      sha256 text NOT NULL,
      status text NOT NULL,
      stage text,
      attempts integer NOT NULL DEFAULT 0,
      run_after timestamptz NOT NULL DEFAULT now(),
      lease_owner text,
      lease_until timestamptz,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      FOREIGN KEY (kb_id, document_id) REFERENCES kb_documents (kb_id, id) ON DELETE CASCADE
    )`);
    await q.query(
      `CREATE INDEX kb_jobs_ready ON kb_jobs (status, run_after) WHERE status IN ('queued', 'running')`,
    );
    await q.query(`CREATE INDEX kb_jobs_doc ON kb_jobs (kb_id, document_id, generation)`);

    await q.query(`CREATE TABLE kb_chunks (
      id text PRIMARY KEY,
      seq bigserial UNIQUE,
      team_id text NOT NULL,
      kb_id text NOT NULL,
      generation integer NOT NULL,
      document_id text NOT NULL,
      ordinal integer NOT NULL,
      text text NOT NULL,
      heading_path text[] NOT NULL DEFAULT '{}',
      page_from integer,
      page_to integer,
      char_start integer NOT NULL,
      char_end integer NOT NULL,
      token_count integer NOT NULL,
      tsv tsvector NOT NULL,
      dl integer NOT NULL,
      FOREIGN KEY (kb_id, document_id) REFERENCES kb_documents (kb_id, id) ON DELETE CASCADE
    )`);
    await q.query(`CREATE INDEX kb_chunks_doc ON kb_chunks (kb_id, generation, document_id, ordinal)`);
    const vector = (await q.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`)) as unknown[];
    if (vector.length > 0) await q.query(`ALTER TABLE kb_chunks ADD COLUMN embedding vector`);

    // The lexical index: one posting per (lexeme, chunk) with its term frequency and the chunk's
    // length, clustered by lexeme so a query reads only its terms' postings (index-only scan).
    await q.query(`CREATE TABLE kb_postings (
      kb_id text NOT NULL,
      generation integer NOT NULL,
      term text NOT NULL,
      chunk_seq bigint NOT NULL REFERENCES kb_chunks (seq) ON DELETE CASCADE,
      tf smallint NOT NULL,
      dl integer NOT NULL
    )`);
    await q.query(
      `CREATE INDEX kb_postings_term ON kb_postings (kb_id, generation, term) INCLUDE (chunk_seq, tf, dl)`,
    );
    await q.query(`CREATE INDEX kb_postings_chunk ON kb_postings (chunk_seq)`);

    await q.query(`CREATE TABLE kb_queries (
      id bigserial PRIMARY KEY,
      team_id text NOT NULL,
      kb_id text NOT NULL REFERENCES knowledge_bases (id) ON DELETE CASCADE,
      query text NOT NULL,
      options jsonb NOT NULL,
      results jsonb NOT NULL,
      took_ms real NOT NULL,
      created_by text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX kb_queries_kb ON kb_queries (kb_id, created_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['kb_queries', 'kb_postings', 'kb_chunks', 'kb_jobs', 'kb_documents', 'kb_generations']) {
      await q.query(`DROP TABLE ${t}`);
    }
    await q.query(`DROP TABLE knowledge_bases`);
    await q.query(`DROP TABLE kb_files`);
  }
}
