/** The HTTP layers of knowledge bases: OpenAI's files and vector stores, and the admin API. */
import { KnowledgeBasesController } from './admin/knowledge-bases.controller';
import { FilesController } from './openai/files.controller';
import { VectorStoreFilesController } from './openai/vector-store-files.controller';
import { VectorStoresController } from './openai/vector-stores.controller';

export const KNOWLEDGE_CONTROLLERS = [
  FilesController,
  VectorStoresController,
  VectorStoreFilesController,
  KnowledgeBasesController,
];
export { actorOf } from './actor';
export { registerMultipart, DEFAULT_MAX_FILE_BYTES } from './multipart';
