/**
 * The ingestion job loop: one job per (document, generation), kept in `kb_jobs` and claimed with a
 * lease, so every gateway replica (embedded or cluster) shares the same queue without a second
 * system to keep in step with the documents' status. A job parses (on worker threads), chunks,
 * embeds (on the inference workers, metered to the team) and then indexes in ONE transaction that
 * also completes the job: a gateway killed at any point leaves either the old chunks or the new
 * ones, and the job (its lease expired) runs again from the start, so nothing is indexed twice.
 */
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { describeError, isCorralError } from '@corral/common';
import { chunkDocument, type Chunk } from '../chunking';
import { ParseError, type ParsePool, type ParseLimits } from '../parsing';
import type { Embedder } from './embedder';
import { insertChunks, lockGeneration, removeChunks } from '../store/chunk.store';
import type { Job, KnowledgeRepository } from '../store/knowledge.repository';

export interface RunnerOptions {
  /** Jobs in flight on this gateway. Defaults to 2. */
  concurrency?: number;
  /** How long a claimed job stays ours without a renewal. Defaults to 30 s. */
  leaseMs?: number;
  /** How often an idle loop looks for work (a new job also wakes it at once). Defaults to 1 s. */
  pollMs?: number;
  /** Failed attempts before a document fails for good (transient errors only). Defaults to 3. */
  maxAttempts?: number;
  limits?: Partial<ParseLimits>;
  /** Whether kb_chunks has the vector column (pgvector installed when migrations ran). */
  hasVectors: boolean;
}

const EMBED_BATCH = 32;

export class IngestRunner {
  private readonly log = new Logger('Knowledge');
  private readonly owner = `ingest-${process.pid}-${randomBytes(4).toString('hex')}`;
  private running = false;
  private loops: Promise<void>[] = [];
  private wake?: () => void;
  private sinceAnalyze = 0;
  private readonly o: Required<Omit<RunnerOptions, 'limits'>> & { limits?: Partial<ParseLimits> };
  /** Jobs this runner finished (tests and the bench wait on it). */
  finished = 0;

  constructor(
    private readonly ds: DataSource,
    private readonly repo: KnowledgeRepository,
    private readonly pool: ParsePool,
    private readonly embedder: Embedder,
    opts: RunnerOptions,
  ) {
    this.o = { concurrency: 2, leaseMs: 30_000, pollMs: 1000, maxAttempts: 3, ...opts };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.o.concurrency; i++) this.loops.push(this.loop());
  }

  /** New work was queued: wake the idle loops now rather than at their next poll. */
  notify(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.notify();
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let job: Job | undefined;
      try {
        job = await this.repo.claimJob(this.owner, this.o.leaseMs);
      } catch (e) {
        if (this.running) this.log.warn(`could not claim an ingestion job: ${describeError(e).message}`);
        await new Promise((r) => setTimeout(r, this.o.pollMs).unref());
        continue;
      }
      if (!job) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.o.pollMs);
          t.unref();
          const prev = this.wake;
          this.wake = () => {
            clearTimeout(t);
            prev?.();
            resolve();
          };
        });
        this.wake = undefined;
        continue;
      }
      await this.run(job);
    }
  }

  private async run(job: Job): Promise<void> {
    const abort = new AbortController();
    const renew = setInterval(
      () => {
        this.repo.renewLease(job, this.owner, this.o.leaseMs).then(
          (ours) => {
            if (!ours) abort.abort(new Error('the job was cancelled'));
          },
          () => undefined,
        );
      },
      Math.max(250, this.o.leaseMs / 3),
    );
    renew.unref();
    try {
      await this.process(job, abort.signal);
    } catch (e) {
      await this.failed(job, e).catch((err) =>
        this.log.warn(`ingestion bookkeeping failed: ${describeError(err).message}`),
      );
    } finally {
      clearInterval(renew);
      this.finished++;
    }
  }

  private async process(job: Job, signal: AbortSignal): Promise<void> {
    const teams = [job.teamId];
    const gen = await this.repo.generation(job.kbId, job.generation);
    const doc = await this.repo.getDocument(teams, job.kbId, job.documentId);
    if (!gen || gen.status === 'retired' || gen.status === 'failed' || !doc || doc.sha256 !== job.sha256) {
      // Superseded (re-uploaded, deleted, generation replaced): nothing to do.
      await this.repo.finishJob(this.ds, job, 'done', 'superseded');
      return;
    }
    const bytes = await this.repo.fileBytes(teams, job.documentId);
    if (!bytes) {
      await this.final(job, 'invalid_file', 'the file was deleted before it was indexed');
      return;
    }

    await this.repo.setStage(job, this.owner, 'parse');
    const parsed = await this.pool.parse(new Uint8Array(bytes), doc.filename, this.o.limits);
    signal.throwIfAborted();

    await this.repo.setStage(job, this.owner, 'chunk');
    let window: number | undefined;
    if (gen.embeddingModel) window = (await this.embedder.describe(gen.embeddingModel)).windowTokens;
    const chunking = (await this.documentChunking(job)) ?? gen.chunking;
    const chunks = chunkDocument(parsed, chunking, { windowTokens: window });
    if (chunks.length === 0) {
      await this.final(job, 'invalid_file', 'the document has no text to index', parsed.type, parsed.pages);
      return;
    }

    let vectors: number[][] | undefined;
    if (gen.embeddingModel) {
      await this.repo.setStage(job, this.owner, 'embed');
      vectors = await this.embedChunks(
        job,
        gen.embeddingModel,
        gen.modelDigest,
        gen.dimension,
        chunks,
        signal,
      );
    }

    await this.repo.setStage(job, this.owner, 'index');
    const usageBytes =
      chunks.reduce((s, c) => s + Buffer.byteLength(c.text), 0) +
      (vectors ? vectors.length * (vectors[0]?.length ?? 0) * 4 : 0);
    const committed = await this.ds.transaction(async (m) => {
      if (!(await this.repo.holdJob(m, job, this.owner))) return false;
      const language = await lockGeneration(m, job);
      const scope = {
        teamId: job.teamId,
        kbId: job.kbId,
        generation: job.generation,
        documentId: job.documentId,
      };
      await removeChunks(m, scope);
      await insertChunks(
        m,
        scope,
        language,
        chunks.map((c, i) => ({ ...c, embedding: vectors?.[i] })),
        this.o.hasVectors && vectors !== undefined,
      );
      await this.repo.finishJob(m, job, 'done', null);
      await this.repo.setOutcome(m, job, {
        status: 'completed',
        detectedType: parsed.type,
        pages: parsed.pages,
        chunkCount: chunks.length,
        usageBytes,
      });
      return true;
    });
    if (!committed) return;
    await this.afterIndex(job, chunks.length, gen.status === 'building');
  }

  private async documentChunking(job: Job) {
    const rows = (await this.ds.query(
      `SELECT chunking FROM kb_documents WHERE kb_id = $1 AND id = $2 AND team_id = $3`,
      [job.kbId, job.documentId, job.teamId],
    )) as { chunking: Parameters<typeof chunkDocument>[1] | null }[];
    return rows[0]?.chunking ?? undefined;
  }

  private async embedChunks(
    job: Job,
    model: string,
    digest: string | null,
    dimension: number | null,
    chunks: Chunk[],
    signal: AbortSignal,
  ): Promise<number[][]> {
    const out: number[][] = [];
    for (let i = 0; i < chunks.length; i += EMBED_BATCH) {
      const inputs = chunks.slice(i, i + EMBED_BATCH).map((c) => [...c.headingPath, c.text].join('\n'));
      const r = await this.embedder.embed({ teamId: job.teamId, model, inputs, route: 'kb:ingest', signal });
      // A model replaced under the same name must not mix its vectors into this generation.
      if (digest && r.digest !== digest) {
        throw new PermanentError(
          'embedding_model_changed',
          `the embedding model '${model}' changed (digest ${r.digest.slice(0, 19)}); reindex the knowledge base`,
        );
      }
      for (const v of r.vectors) {
        if (dimension !== null && v.length !== dimension) {
          throw new PermanentError(
            'dimension_mismatch',
            `the embedding model returned ${v.length} dimensions, the index holds ${dimension}`,
          );
        }
        out.push(v);
      }
      signal.throwIfAborted();
    }
    return out;
  }

  private async afterIndex(job: Job, chunks: number, building: boolean): Promise<void> {
    // PGlite has no autovacuum: keep the planner's statistics fresh as the index grows.
    this.sinceAnalyze += chunks;
    if (this.sinceAnalyze >= 2000) {
      this.sinceAnalyze = 0;
      await this.ds.query('ANALYZE kb_postings').catch(() => undefined);
      await this.ds.query('ANALYZE kb_chunks').catch(() => undefined);
    }
    if (building && (await this.repo.switchIfBuilt(job.kbId, job.generation))) {
      this.log.log(`knowledge base ${job.kbId} now answers from generation ${job.generation}`);
    }
  }

  private async final(
    job: Job,
    code: string,
    reason: string,
    detectedType?: string,
    pages?: number | null,
  ): Promise<void> {
    await this.ds.transaction(async (m) => {
      if (!(await this.repo.holdJob(m, job, this.owner))) return;
      await this.repo.finishJob(m, job, 'failed', reason);
      await this.repo.setOutcome(m, job, { status: 'failed', errorCode: code, reason, detectedType, pages });
    });
    const gen = await this.repo.generation(job.kbId, job.generation);
    if (gen?.status === 'building') await this.repo.switchIfBuilt(job.kbId, job.generation);
  }

  private async failed(job: Job, e: unknown): Promise<void> {
    if (e instanceof ParseError) {
      const code =
        e.failure === 'unsupported_type' || e.failure === 'type_mismatch'
          ? 'unsupported_file'
          : 'invalid_file';
      await this.final(job, code, e.message);
      return;
    }
    if (e instanceof PermanentError) {
      await this.final(job, 'server_error', e.message);
      return;
    }
    const message = e instanceof Error ? e.message : describeError(e).message;
    if (/cancelled/.test(message) && !(await this.repo.renewLease(job, this.owner, this.o.leaseMs))) return;
    if (
      job.attempts >= this.o.maxAttempts ||
      (isCorralError(e) &&
        e.status >= 400 &&
        e.status < 500 &&
        e.code !== 'rate_limited' &&
        e.code !== 'quota_exceeded')
    ) {
      await this.final(job, 'server_error', message);
      return;
    }
    const delay = 1000 * 2 ** (job.attempts - 1);
    this.log.warn(
      `ingesting ${job.documentId} failed (attempt ${job.attempts}), retrying in ${delay} ms: ${message}`,
    );
    await this.repo.retryJob(job, this.owner, delay, message);
  }
}

class PermanentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
