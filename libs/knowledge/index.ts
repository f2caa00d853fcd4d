/** Knowledge bases (docs/knowledge.md): what the gateway, grounded chat, the CLI's types and tests use. */
export { KnowledgeModule } from './knowledge.module';
export { actorOf, registerMultipart } from './http';
export {
  KnowledgeApi,
  type Batch,
  type BatchInput,
  type KbActor,
  type NewBase,
  type Page,
  type SearchOptions,
  type SearchResult,
} from './knowledge.service';
export {
  ChunkingSchema,
  DEFAULT_SETTINGS,
  SettingsSchema,
  type KbDocument,
  type KbFile,
  type KbSettings,
  type KnowledgeBase,
  type SearchHit,
  type StoredChunk,
} from './knowledge.types';
export { FilterSchema, type Filter } from './retrieval/filters';
export { readQrels, readQueries, score, type QualityRow, type Qrels } from './eval/metrics';
export * from './grounding';
