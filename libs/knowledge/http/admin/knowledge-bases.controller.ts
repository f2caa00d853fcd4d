/**
 * /admin/v1/knowledge-bases: the console's view of knowledge bases across the caller's teams —
 * settings, reindex, documents with their processing state, a chunk preview and a retrieval test
 * that shows every stage. The service bounds every call by the caller's team roles (another
 * team's base is a 404); every change is an audit event.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { parseBody } from '@corral/common';
import { AdminDoc, CurrentPrincipal, Scopes, type Principal } from '@corral/auth';
import { AdminAction, recordChange } from '@corral/core';
import { KnowledgeApi } from '../../knowledge.service';
import { actorOf } from '../actor';
import {
  ChunksQuery,
  CreateBaseBody,
  ListBasesQuery,
  ListDocumentsQuery,
  RetrievalTestBody,
  UpdateBaseBody,
  baseOut,
  chunkOut,
  documentOut,
  retrievalOut,
  settingsPatch,
} from './dto';

const input = <T>(schema: import('zod').ZodType<T>, v: unknown) => parseBody(schema, v ?? {}, 'ollama');

@Controller('admin/v1/knowledge-bases')
export class KnowledgeBasesController {
  constructor(private readonly kb: KnowledgeApi) {}

  @Get()
  @Scopes('kb:read')
  @AdminDoc({ summary: "List knowledge bases in the caller's teams (admins: all)", query: ListBasesQuery })
  async list(@CurrentPrincipal() p: Principal, @Query() query: unknown) {
    const { team, ...q } = input(ListBasesQuery, query);
    const page = await this.kb.listBases(actorOf(p), { ...q, ...(team ? { teamId: team } : {}) });
    return { data: page.data.map(baseOut), hasMore: page.hasMore };
  }

  @Post()
  @HttpCode(201)
  @Scopes('kb:write')
  @AdminDoc({
    summary: 'Create a knowledge base (team owners and members)',
    body: CreateBaseBody,
    status: 201,
  })
  @AdminAction('kb.create')
  async create(@CurrentPrincipal() p: Principal, @Body() body: unknown, @Req() req: FastifyRequest) {
    const b = input(CreateBaseBody, body);
    recordChange(req, { teamId: b.teamId ?? null });
    const base = await this.kb.createBase(actorOf(p), {
      teamId: b.teamId,
      name: b.name,
      description: b.description,
      metadata: b.metadata,
      settings: settingsPatch(b),
    });
    recordChange(req, { resource: `kb:${base.id}`, teamId: base.teamId, before: null, after: baseOut(base) });
    return baseOut(base);
  }

  @Get(':id')
  @Scopes('kb:read')
  @AdminDoc({ summary: 'Get a knowledge base with its settings and document counts' })
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return baseOut(await this.kb.getBase(actorOf(p), id));
  }

  @Patch(':id')
  @Scopes('kb:write')
  @AdminDoc({
    summary: 'Change name, description or settings (an embedding, chunking or language change reindexes)',
    body: UpdateBaseBody,
  })
  @AdminAction('kb.update')
  async update(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `kb:${id}` });
    const b = input(UpdateBaseBody, body);
    const actor = actorOf(p);
    const prior = await this.kb.getBase(actor, id);
    recordChange(req, { teamId: prior.teamId, before: baseOut(prior) });
    const settings = settingsPatch(b);
    const base = await this.kb.updateBase(actor, id, {
      ...(b.name !== undefined ? { name: b.name } : {}),
      ...(b.description !== undefined ? { description: b.description } : {}),
      ...(b.metadata !== undefined ? { metadata: b.metadata } : {}),
      ...(Object.keys(settings).length ? { settings } : {}),
    });
    recordChange(req, { after: baseOut(base) });
    return baseOut(base);
  }

  @Delete(':id')
  @HttpCode(204)
  @Scopes('kb:write')
  @AdminDoc({ summary: 'Delete a knowledge base, its documents, chunks and vectors', status: 204 })
  @AdminAction('kb.delete')
  async remove(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    recordChange(req, { resource: `kb:${id}` });
    const actor = actorOf(p);
    const prior = await this.kb.getBase(actor, id);
    recordChange(req, { teamId: prior.teamId, before: baseOut(prior) });
    await this.kb.deleteBase(actor, id);
    recordChange(req, { after: null });
  }

  @Post(':id/reindex')
  @HttpCode(202)
  @Scopes('kb:write')
  @AdminDoc({
    summary: 'Rebuild the index in a new generation; queries use the current one until it is done',
    status: 202,
  })
  @AdminAction('kb.reindex')
  async reindex(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    recordChange(req, { resource: `kb:${id}` });
    const actor = actorOf(p);
    const prior = await this.kb.getBase(actor, id);
    recordChange(req, { teamId: prior.teamId, before: { activeGeneration: prior.activeGeneration } });
    const base = await this.kb.reindex(actor, id);
    recordChange(req, {
      after: { activeGeneration: base.activeGeneration, buildingGeneration: base.buildingGeneration },
    });
    return baseOut(base);
  }

  @Get(':id/documents')
  @Scopes('kb:read')
  @AdminDoc({
    summary: "A knowledge base's documents with their processing state",
    query: ListDocumentsQuery,
  })
  async documents(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Query() query: unknown) {
    const q = input(ListDocumentsQuery, query);
    const page = await this.kb.listDocuments(actorOf(p), id, q);
    return { data: page.data.map(documentOut), hasMore: page.hasMore };
  }

  @Get(':id/documents/:doc')
  @Scopes('kb:read')
  @AdminDoc({ summary: 'One document: status, stage, failure reason, chunk count' })
  async document(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Param('doc') doc: string) {
    return documentOut(await this.kb.getDocument(actorOf(p), id, doc));
  }

  @Delete(':id/documents/:doc')
  @HttpCode(204)
  @Scopes('kb:write')
  @AdminDoc({
    summary: 'Remove a document from the base (its chunks and vectors; the file stays)',
    status: 204,
  })
  @AdminAction('kb.document_delete')
  async removeDocument(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Param('doc') doc: string,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `kb:${id}/documents/${doc}` });
    const actor = actorOf(p);
    const prior = await this.kb.getDocument(actor, id, doc);
    recordChange(req, { teamId: prior.teamId, before: documentOut(prior) });
    await this.kb.deleteDocument(actor, id, doc);
    recordChange(req, { after: null });
  }

  @Get(':id/documents/:doc/chunks')
  @Scopes('kb:read')
  @AdminDoc({ summary: "A preview of a document's chunks, in order", query: ChunksQuery })
  async chunks(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Param('doc') doc: string,
    @Query() query: unknown,
  ) {
    const q = input(ChunksQuery, query);
    const limit = q.limit ?? 20;
    const offset = q.offset ?? 0;
    const rows = await this.kb.chunks(actorOf(p), id, doc, { limit, offset });
    return { data: rows.map(chunkOut), limit, offset };
  }

  @Post(':id/retrieval-test')
  @HttpCode(200)
  @Scopes('kb:read')
  @AdminDoc({
    summary: 'Run a query and show every hit with its rank and score at each stage, and stage timings',
    body: RetrievalTestBody,
  })
  async retrievalTest(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown) {
    const b = input(RetrievalTestBody, body);
    const result = await this.kb.search(actorOf(p), [id], {
      query: b.query,
      topK: b.topK,
      scoreThreshold: b.scoreThreshold,
      filter: b.filters,
      rerank: b.rerank,
    });
    return retrievalOut(b.query, result);
  }
}
