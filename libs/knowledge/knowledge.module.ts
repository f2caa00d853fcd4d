import { Inject, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { CorralConfig } from '@corral/config';
import type { Database } from '@corral/persistence';
import { CONFIG, DATABASE } from '@corral/core';
import { ServingModule } from '@corral/serving';
import { ParsePool } from './parsing';
import { Embedder, ServingEmbedder } from './ingest/embedder';
import { IngestRunner } from './ingest/ingest.runner';
import { KnowledgeApi } from './knowledge.service';
import { KnowledgeBaseService } from './knowledge-base.service';
import { KnowledgeRepository } from './store/knowledge.repository';
import { KNOWLEDGE_CONTROLLERS } from './http';

/** Whether kb_chunks got its vector column (pgvector was installed when the migration ran). */
async function hasVectorColumn(db: Database): Promise<boolean> {
  const rows = (await db.dataSource.query(
    `SELECT 1 FROM information_schema.columns WHERE table_name = 'kb_chunks' AND column_name = 'embedding'
        AND table_schema = ANY (current_schemas(false))`,
  )) as unknown[];
  return rows.length > 0;
}

/**
 * Knowledge bases: the OpenAI vector-store API, the admin API, and the ingestion runner that every
 * gateway replica runs (jobs are shared through the database, see ./ingest/ingest.runner.ts).
 */
@Module({
  imports: [ServingModule],
  controllers: KNOWLEDGE_CONTROLLERS,
  providers: [
    { provide: Embedder, useClass: ServingEmbedder },
    {
      provide: ParsePool,
      useFactory: (config: CorralConfig) => new ParsePool({ threads: config.knowledge.parseThreads }),
      inject: [CONFIG],
    },
    {
      provide: IngestRunner,
      useFactory: async (config: CorralConfig, db: Database, pool: ParsePool, embedder: Embedder) =>
        new IngestRunner(db.dataSource, new KnowledgeRepository(db.dataSource), pool, embedder, {
          concurrency: config.knowledge.ingestConcurrency,
          hasVectors: await hasVectorColumn(db),
          limits: {
            maxBytes: config.knowledge.maxFileBytes,
            maxUnzippedBytes: config.knowledge.maxUnzippedBytes,
            maxPages: config.knowledge.maxPages,
          },
        }),
      inject: [CONFIG, DATABASE, ParsePool, Embedder],
    },
    {
      provide: KnowledgeApi,
      useFactory: async (config: CorralConfig, db: Database, embedder: Embedder, runner: IngestRunner) =>
        new KnowledgeBaseService(
          db.dataSource,
          config.knowledge,
          embedder,
          runner,
          await hasVectorColumn(db),
        ),
      inject: [CONFIG, DATABASE, Embedder, IngestRunner],
    },
  ],
  exports: [KnowledgeApi],
})
export class KnowledgeModule implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(IngestRunner) private readonly runner: IngestRunner,
    @Inject(ParsePool) private readonly pool: ParsePool,
  ) {}

  onApplicationBootstrap(): void {
    this.runner.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.runner.stop();
    await this.pool.close();
  }
}
