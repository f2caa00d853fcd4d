/**
 * /v1/vector_stores/{id}/files and /file_batches: `openai.vectorStores.files.*` and
 * `openai.vectorStores.fileBatches.*` (their upload-and-poll helpers retrieve until a file or batch
 * leaves in_progress). A vector-store file is a document; its id is the file's id.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { parseBody } from '@corral/common';
import { CurrentPrincipal, Scopes, type Principal } from '@corral/auth';
import { AdminAction, recordChange } from '@corral/core';
import { KnowledgeApi, type KbActor, type ListOptions } from '../../knowledge.service';
import type { StoredChunk } from '../../knowledge.types';
import { actorOf } from '../actor';
import { CreateBatchBody, CreateFileBody, DocumentListQuery, UpdateFileBody } from './dto';
import { batchOut, documentOut, listOf } from './mappers';

/** Chunks read per query when returning a whole document's text. */
const CONTENT_PAGE = 500;
/** At most this many chunks come back as a file's content. */
const CONTENT_MAX_CHUNKS = 20_000;

/**
 * The document's text from its chunks in order. Overlapping chunks are stitched by their character
 * offsets so the overlap is not repeated; a chunk whose text is not a plain slice of the source
 * (one with a heading prefix, say) comes back whole.
 */
export function stitch(chunks: readonly StoredChunk[]): { type: 'text'; text: string }[] {
  const out: { type: 'text'; text: string }[] = [];
  let text = '';
  let end = -1;
  for (const c of chunks) {
    const plain = c.text.length === c.charEnd - c.charStart;
    if (plain && end >= 0 && c.charStart <= end) {
      text += c.text.slice(end - c.charStart);
      end = Math.max(end, c.charEnd);
      continue;
    }
    if (text) out.push({ type: 'text', text });
    text = c.text;
    end = plain ? c.charEnd : -1;
  }
  if (text) out.push({ type: 'text', text });
  return out;
}

@Controller('v1/vector_stores/:storeId')
export class VectorStoreFilesController {
  constructor(private readonly kb: KnowledgeApi) {}

  private async chunking(actor: KbActor, storeId: string) {
    return (await this.kb.getBase(actor, storeId)).settings.chunking;
  }

  @Post('files')
  @HttpCode(200)
  @Scopes('kb:write')
  @AdminAction('kb.document_add')
  async create(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    const b = parseBody(CreateFileBody, body, 'openai');
    recordChange(req, { resource: `kb:${storeId}/documents/${b.file_id}` });
    const actor = actorOf(p);
    const doc = await this.kb.addDocument(actor, storeId, {
      fileId: b.file_id,
      attributes: b.attributes ?? undefined,
      chunking: b.chunking_strategy,
    });
    const out = documentOut(doc, b.chunking_strategy ?? (await this.chunking(actor, storeId)));
    recordChange(req, { teamId: doc.teamId, before: null, after: out });
    return out;
  }

  @Get('files')
  @Scopes('kb:read')
  async list(@CurrentPrincipal() p: Principal, @Param('storeId') storeId: string, @Query() query: unknown) {
    return this.listDocs(actorOf(p), storeId, query);
  }

  @Get('files/:fileId')
  @Scopes('kb:read')
  async retrieve(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Param('fileId') fileId: string,
  ) {
    const actor = actorOf(p);
    const doc = await this.kb.getDocument(actor, storeId, fileId);
    return documentOut(doc, await this.chunking(actor, storeId));
  }

  @Post('files/:fileId')
  @HttpCode(200)
  @Scopes('kb:write')
  @AdminAction('kb.document_update')
  async update(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Param('fileId') fileId: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `kb:${storeId}/documents/${fileId}` });
    const b = parseBody(UpdateFileBody, body, 'openai');
    const actor = actorOf(p);
    const prior = await this.kb.getDocument(actor, storeId, fileId);
    recordChange(req, { teamId: prior.teamId, before: { attributes: prior.attributes } });
    const doc = await this.kb.updateAttributes(actor, storeId, fileId, b.attributes ?? {});
    recordChange(req, { after: { attributes: doc.attributes } });
    return documentOut(doc, await this.chunking(actor, storeId));
  }

  @Delete('files/:fileId')
  @Scopes('kb:write')
  @AdminAction('kb.document_delete')
  async remove(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Param('fileId') fileId: string,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `kb:${storeId}/documents/${fileId}` });
    const actor = actorOf(p);
    const prior = await this.kb.getDocument(actor, storeId, fileId);
    recordChange(req, { teamId: prior.teamId, before: documentOut(prior, { type: 'auto' }) });
    await this.kb.deleteDocument(actor, storeId, fileId);
    recordChange(req, { after: null });
    return { id: fileId, object: 'vector_store.file.deleted' as const, deleted: true };
  }

  @Get('files/:fileId/content')
  @Scopes('kb:read')
  async content(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Param('fileId') fileId: string,
  ) {
    const actor = actorOf(p);
    // 404 for another team's document before any chunk is read.
    await this.kb.getDocument(actor, storeId, fileId);
    const chunks: StoredChunk[] = [];
    for (let offset = 0; offset < CONTENT_MAX_CHUNKS; offset += CONTENT_PAGE) {
      const page = await this.kb.chunks(actor, storeId, fileId, { limit: CONTENT_PAGE, offset });
      chunks.push(...page);
      if (page.length < CONTENT_PAGE) break;
    }
    return {
      object: 'vector_store.file_content.page' as const,
      data: stitch(chunks),
      has_more: false,
      next_page: null,
    };
  }

  @Post('file_batches')
  @HttpCode(200)
  @Scopes('kb:write')
  @AdminAction('kb.batch_create')
  async createBatch(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `kb:${storeId}/batches` });
    const b = parseBody(CreateBatchBody, body, 'openai');
    const batch = await this.kb.createBatch(actorOf(p), storeId, {
      fileIds: b.file_ids,
      files: b.files?.map((f) => ({
        fileId: f.file_id,
        attributes: f.attributes ?? undefined,
        chunking: f.chunking_strategy,
      })),
      attributes: b.attributes ?? undefined,
      chunking: b.chunking_strategy,
    });
    recordChange(req, {
      resource: `kb:${storeId}/batches/${batch.id}`,
      before: null,
      after: { ...batchOut(batch), file_ids: b.file_ids ?? b.files?.map((f) => f.file_id) },
    });
    return batchOut(batch);
  }

  @Get('file_batches/:batchId')
  @Scopes('kb:read')
  async retrieveBatch(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Param('batchId') batchId: string,
  ) {
    return batchOut(await this.kb.getBatch(actorOf(p), storeId, batchId));
  }

  @Post('file_batches/:batchId/cancel')
  @HttpCode(200)
  @Scopes('kb:write')
  @AdminAction('kb.batch_cancel')
  async cancelBatch(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Param('batchId') batchId: string,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `kb:${storeId}/batches/${batchId}` });
    const batch = batchOut(await this.kb.cancelBatch(actorOf(p), storeId, batchId));
    recordChange(req, { after: batch });
    return batch;
  }

  @Get('file_batches/:batchId/files')
  @Scopes('kb:read')
  async batchFiles(
    @CurrentPrincipal() p: Principal,
    @Param('storeId') storeId: string,
    @Param('batchId') batchId: string,
    @Query() query: unknown,
  ) {
    const actor = actorOf(p);
    await this.kb.getBatch(actor, storeId, batchId);
    return this.listDocs(actor, storeId, query, batchId);
  }

  private async listDocs(actor: KbActor, storeId: string, query: unknown, batchId?: string) {
    const { filter, ...q } = parseBody(DocumentListQuery, query ?? {}, 'openai');
    const opts: ListOptions & {
      status?: 'in_progress' | 'completed' | 'failed' | 'cancelled';
      batchId?: string;
    } = {
      ...q,
      ...(filter ? { status: filter } : {}),
      ...(batchId ? { batchId } : {}),
    };
    const chunking = await this.chunking(actor, storeId);
    return listOf(await this.kb.listDocuments(actor, storeId, opts), (d) => documentOut(d, chunking));
  }
}
