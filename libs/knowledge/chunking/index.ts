/** Chunking for knowledge bases: parsed documents in, token-bounded chunks with offsets out. */
export { chunkDocument, documentText, type Chunk, type ChunkOptions } from './chunk';
export { estimateTokens } from './tokens';
export { validateChunking, type ChunkingStrategy } from './validate';
