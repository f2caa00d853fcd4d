/**
 * The knowledge-base service against a real database (PGlite, and PostgreSQL with pgvector when
 * DATABASE_URL is set), with the real parsers on worker threads and the real ingestion runner.
 * Lexical bases only: the embedding path needs inference workers and is covered end to end in
 * test/knowledge.e2e.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { auditTargets, openTestDb, type TestDb } from '../../test/support/db';
import { Embedder } from './ingest/embedder';
import { IngestRunner } from './ingest/ingest.runner';
import { KnowledgeBaseService } from './knowledge-base.service';
import type { KbActor } from './knowledge.service';
import { ParsePool } from './parsing';
import { KnowledgeRepository } from './store/knowledge.repository';

const SAMPLES = join(__dirname, '../../../shared/docs-sample');

/** Lexical bases never embed: a call here is a bug the test must see. */
class NoEmbedder extends Embedder {
  describe(): never {
    throw new Error('no embedding model in this test');
  }
  embed(): never {
    throw new Error('no embedding model in this test');
  }
}

const CONFIG = {
  maxFileBytes: 8 * 1024 * 1024,
  maxUnzippedBytes: 64 * 1024 * 1024,
  maxPages: 5000,
  ingestConcurrency: 2,
  parseThreads: 1,
};

const actor = (team: string, role: 'owner' | 'member' | 'viewer' = 'member'): KbActor => ({
  admin: false,
  teamRoles: { [team]: role },
  defaultTeam: team,
  userId: null,
  keyId: `key-${team}`,
});

const md = (title: string, body: string) => Buffer.from(`---\nlayout: x\n---\n# ${title}\n\n${body}\n`);

describe.each(auditTargets())('knowledge bases on %s', (target) => {
  let t: TestDb;
  let pool: ParsePool;
  let runner: IngestRunner;
  let kb: KnowledgeBaseService;
  const A = actor('team-a');
  const B = actor('team-b');

  beforeAll(async () => {
    t = await openTestDb(target);
    pool = new ParsePool({ threads: 1 });
    const repo = new KnowledgeRepository(t.db.dataSource);
    runner = new IngestRunner(t.db.dataSource, repo, pool, new NoEmbedder(), {
      hasVectors: false,
      pollMs: 50,
      leaseMs: 2000,
    });
    kb = new KnowledgeBaseService(t.db.dataSource, CONFIG, new NoEmbedder(), runner, false);
    runner.start();
  });
  afterAll(async () => {
    await runner.stop();
    await pool.close();
    await t.dispose();
  });

  async function settled(kbId: string, who = A) {
    for (let i = 0; i < 600; i++) {
      const b = await kb.getBase(who, kbId);
      if (b.counts.queued + b.counts.in_progress === 0 && b.buildingGeneration === null) return b;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('ingestion did not settle');
  }

  async function upload(who: KbActor, name: string, bytes: Buffer) {
    return kb.uploadFile(who, { filename: name, purpose: 'assistants', bytes });
  }

  it('ingests Markdown with headings, finds a phrase, and cites the document', async () => {
    const base = await kb.createBase(A, { name: 'handbook' });
    const f1 = await upload(
      A,
      'leave.md',
      md('Leave policy', '## Sick leave\n\nEmployees accrue four hours of sick leave every pay period.'),
    );
    const f2 = await upload(
      A,
      'travel.md',
      md('Travel', '## Per diem\n\nThe per diem covers lodging, meals and incidental expenses.'),
    );
    await kb.createBatch(A, base.id, { fileIds: [f1.id, f2.id] });
    const done = await settled(base.id);
    expect(done.counts).toMatchObject({ completed: 2, failed: 0 });
    const r = await kb.search(A, [base.id], { query: 'how much sick leave do employees accrue?' });
    expect(r.hits[0]).toMatchObject({ documentId: f1.id, filename: 'leave.md' });
    expect(r.hits[0]!.headingPath[0]).toBe('Leave policy');
    expect(r.hits[0]!.text).toContain('four hours of sick leave');
    expect(r.hits[0]!.text).not.toContain('layout: x');
    expect(r.stages.map((s) => s.name)).toEqual(['bm25']);
  });

  it('keeps teams apart: another team gets not found for the base, its documents, files and search', async () => {
    const base = await kb.createBase(A, { name: 'private' });
    const f = await upload(A, 'secret.md', md('Secret', 'The launch code word is marmalade.'));
    await kb.addDocument(A, base.id, { fileId: f.id });
    await settled(base.id);
    const notFound = expect.objectContaining({ code: 'not_found' });
    await expect(kb.getBase(B, base.id)).rejects.toEqual(notFound);
    await expect(kb.search(B, [base.id], { query: 'marmalade' })).rejects.toEqual(notFound);
    await expect(kb.getDocument(B, base.id, f.id)).rejects.toEqual(notFound);
    await expect(kb.chunks(B, base.id, f.id, {})).rejects.toEqual(notFound);
    await expect(kb.getFile(B, f.id)).rejects.toEqual(notFound);
    await expect(kb.fileContent(B, f.id)).rejects.toEqual(notFound);
    await expect(kb.deleteDocument(B, base.id, f.id)).rejects.toEqual(notFound);
    // Team B cannot attach team A's file to its own base either.
    const mine = await kb.createBase(B, { name: 'b' });
    await expect(kb.addDocument(B, mine.id, { fileId: f.id })).rejects.toEqual(notFound);
    expect((await kb.listBases(B, {})).data.map((b) => b.id)).not.toContain(base.id);
    // A viewer reads but does not write.
    const viewer = actor('team-a', 'viewer');
    expect((await kb.search(viewer, [base.id], { query: 'marmalade' })).hits).toHaveLength(1);
    await expect(kb.deleteBase(viewer, base.id)).rejects.toEqual(
      expect.objectContaining({ code: 'forbidden' }),
    );
  });

  it('treats the same content as a no-op, and a changed document replaces its chunks', async () => {
    const base = await kb.createBase(A, { name: 'versions' });
    const f = await upload(A, 'v1.md', md('Doc', 'The cafeteria opens at nine.'));
    await kb.addDocument(A, base.id, { fileId: f.id });
    await settled(base.id);
    const before = await t.db.dataSource.query(`SELECT id FROM kb_chunks WHERE kb_id = $1`, [base.id]);
    const doc = await kb.addDocument(A, base.id, { fileId: f.id, attributes: { dept: 'ops' } });
    expect(doc.status).toBe('completed');
    expect(await t.db.dataSource.query(`SELECT id FROM kb_chunks WHERE kb_id = $1`, [base.id])).toEqual(
      before,
    );
    // A new upload of the same name is a new file; replacing content goes through its own id.
    await t.db.dataSource.query(
      `UPDATE kb_files SET content = $2, sha256 = 'changed', bytes = 40 WHERE id = $1`,
      [f.id, md('Doc', 'The cafeteria opens at eleven.')],
    );
    await kb.addDocument(A, base.id, { fileId: f.id });
    await settled(base.id);
    const r = await kb.search(A, [base.id], { query: 'cafeteria opens' });
    expect(r.hits).toHaveLength(1);
    expect(r.hits[0]!.text).toContain('eleven');
  });

  it('deleting a document removes its chunks and postings; the filter narrows by attributes', async () => {
    const base = await kb.createBase(A, { name: 'filters' });
    const hr = await upload(A, 'hr.md', md('HR', 'Parking permits are issued by the front desk.'));
    const it2 = await upload(A, 'it.md', md('IT', 'Parking for bicycles is behind the server room.'));
    await kb.createBatch(A, base.id, {
      files: [
        { fileId: hr.id, attributes: { dept: 'hr', year: 2024 } },
        { fileId: it2.id, attributes: { dept: 'it', year: 2022 } },
      ],
    });
    await settled(base.id);
    const only = await kb.search(A, [base.id], {
      query: 'parking',
      filter: { key: 'dept', type: 'eq', value: 'hr' },
    });
    expect(only.hits.map((h) => h.documentId)).toEqual([hr.id]);
    const newer = await kb.search(A, [base.id], {
      query: 'parking',
      filter: {
        type: 'and',
        filters: [
          { key: 'year', type: 'gte', value: 2023 },
          { key: 'dept', type: 'in', value: ['hr', 'it'] },
        ],
      },
    });
    expect(newer.hits.map((h) => h.documentId)).toEqual([hr.id]);
    await kb.deleteDocument(A, base.id, hr.id);
    const left = await t.db.dataSource.query(
      `SELECT (SELECT count(*)::int FROM kb_chunks WHERE kb_id = $1 AND document_id = $2) AS chunks,
              (SELECT count(*)::int FROM kb_postings p JOIN kb_chunks c ON c.seq = p.chunk_seq WHERE c.document_id = $2) AS postings,
              (SELECT chunk_count::int FROM kb_generations WHERE kb_id = $1 AND generation = 1) AS n`,
      [base.id, hr.id],
    );
    expect(left[0]).toEqual({ chunks: 0, postings: 0, n: 1 });
    expect((await kb.search(A, [base.id], { query: 'parking' })).hits.map((h) => h.documentId)).toEqual([
      it2.id,
    ]);
  });

  it('fails bad documents with a reason and the base keeps working', async () => {
    const base = await kb.createBase(A, { name: 'bad' });
    const good = await upload(A, 'good.md', md('Good', 'Badges are renewed every January.'));
    const empty = await upload(A, 'empty.txt', Buffer.alloc(0));
    const garbage = await upload(
      A,
      'report.pdf',
      Buffer.from([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x37, 0x0a, 0xff, 0x00, 0x13]),
    );
    const binary = await upload(
      A,
      'tool.exe',
      Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0xff, 0xff]),
    );
    await kb.createBatch(A, base.id, { fileIds: [good.id, empty.id, garbage.id, binary.id] });
    const done = await settled(base.id);
    expect(done.counts).toMatchObject({ completed: 1, failed: 3 });
    const docs = new Map((await kb.listDocuments(A, base.id, {})).data.map((d) => [d.id, d]));
    expect(docs.get(empty.id)).toMatchObject({
      status: 'failed',
      errorCode: 'invalid_file',
      reason: expect.stringMatching(/empty/i),
    });
    expect(docs.get(garbage.id)).toMatchObject({ status: 'failed', reason: expect.stringMatching(/pdf/i) });
    expect(docs.get(binary.id)).toMatchObject({ status: 'failed', errorCode: 'unsupported_file' });
    expect((await kb.search(A, [base.id], { query: 'badges renewed' })).hits[0]?.documentId).toBe(good.id);
  });

  it('refuses bad settings and oversized files precisely', async () => {
    await expect(kb.createBase(A, { settings: { language: 'klingon' } })).rejects.toThrow(
      /no text search configuration/,
    );
    await expect(
      kb.createBase(A, {
        settings: {
          chunking: { type: 'static', static: { max_chunk_size_tokens: 50, chunk_overlap_tokens: 0 } },
        },
      }),
    ).rejects.toThrow(/max_chunk_size_tokens/);
    await expect(kb.createBase(A, { settings: { rerankerModel: 'x' } })).rejects.toBeInstanceOf(CorralError);
    await expect(upload(A, 'big.txt', Buffer.alloc(CONFIG.maxFileBytes + 1, 97))).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    const f = await upload(A, '../../etc/pass\u0000wd', Buffer.from('x'));
    expect(f.filename).toBe('passwd');
  });

  it('rebuilds in a new generation on a settings change, answering from the old one until the switch', async () => {
    const base = await kb.createBase(A, { name: 'gen' });
    const files = [];
    for (let i = 0; i < 6; i++)
      files.push(
        await upload(A, `d${i}.md`, md(`Doc ${i}`, `Running shoes number ${i} are stored in locker ${i}.`)),
      );
    await kb.createBatch(A, base.id, { fileIds: files.map((f) => f.id) });
    await settled(base.id);
    // english stems "running" to "run"; simple does not: the switch is visible in what matches.
    expect((await kb.search(A, [base.id], { query: 'run' })).hits.length).toBeGreaterThan(0);
    const updated = await kb.updateBase(A, base.id, { settings: { language: 'simple' } });
    expect(updated.buildingGeneration).toBe(2);
    let sawOld = false;
    for (let i = 0; i < 600; i++) {
      const b = await kb.getBase(A, base.id);
      const hits = (await kb.search(A, [base.id], { query: 'run' })).hits.length;
      if (b.activeGeneration === 1) {
        expect(hits).toBe(6);
        sawOld = true;
      } else {
        expect(b.activeGeneration).toBe(2);
        expect(hits).toBe(0);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(sawOld).toBe(true);
    expect((await kb.search(A, [base.id], { query: 'running' })).hits).toHaveLength(6);
    const gens = await t.db.dataSource.query(
      `SELECT generation, status FROM kb_generations WHERE kb_id = $1 ORDER BY generation`,
      [base.id],
    );
    expect(gens).toEqual([
      { generation: 1, status: 'retired' },
      { generation: 2, status: 'active' },
    ]);
    expect(
      await t.db.dataSource.query(
        `SELECT count(*)::int AS n FROM kb_chunks WHERE kb_id = $1 AND generation = 1`,
        [base.id],
      ),
    ).toEqual([{ n: 0 }]);
  });

  it('resumes a job whose gateway died (lease ran out) and indexes it once', async () => {
    const base = await kb.createBase(A, { name: 'resume' });
    await runner.stop();
    const f = await upload(A, 'r.md', md('Resume', 'Printer toner is ordered monthly.'));
    await kb.addDocument(A, base.id, { fileId: f.id });
    // A gateway that claimed the job and died: the job is 'running' under a lease that expires.
    const repo = new KnowledgeRepository(t.db.dataSource);
    const claimed = await repo.claimJob('dead-gateway', 300);
    expect(claimed?.documentId).toBe(f.id);
    runner.start();
    await new Promise((r) => setTimeout(r, 400));
    const done = await settled(base.id);
    expect(done.counts.completed).toBe(1);
    const n = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM kb_chunks WHERE kb_id = $1`, [
      base.id,
    ]);
    expect(n).toEqual([{ n: 1 }]);
  });

  const pdf = join(SAMPLES, 'pdf/federal-register-2020-17221.pdf');
  (existsSync(pdf) ? it : it.skip)(
    'cites the page of a known PDF passage (../shared/docs-sample)',
    async () => {
      const base = await kb.createBase(A, { name: 'pdf' });
      const f = await upload(A, 'federal-register.pdf', readFileSync(pdf));
      await kb.addDocument(A, base.id, { fileId: f.id });
      await settled(base.id);
      const doc = await kb.getDocument(A, base.id, f.id);
      expect(doc).toMatchObject({ status: 'completed', detectedType: 'pdf', pages: 15 });
      const r = await kb.search(A, [base.id], {
        query: 'replace the existing Airspeed Unreliable paragraph',
      });
      const top = r.hits[0]!;
      expect(top.pageFrom).toBeLessThanOrEqual(7);
      expect(top.pageTo).toBeGreaterThanOrEqual(7);
    },
  );
});
