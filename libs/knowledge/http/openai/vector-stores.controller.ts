/**
 * /v1/vector_stores and its search: `openai.vectorStores.create/list/retrieve/update/delete/search`.
 * A store is a knowledge base; Corral's retrieval settings travel in an extra `corral` object.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { parseBody } from '@corral/common';
import { CurrentPrincipal, Scopes, type Principal } from '@corral/auth';
import { AdminAction, recordChange } from '@corral/core';
import { KnowledgeApi } from '../../knowledge.service';
import type { KbSettings } from '../../knowledge.types';
import { actorOf } from '../actor';
import { CorralSettings, CreateStoreBody, ListQuery, SearchBody, UpdateStoreBody } from './dto';
import { hitOut, listOf, storeOut } from './mappers';

function settingsOf(c: Omit<z.output<typeof CorralSettings>, 'team_id'> | undefined): Partial<KbSettings> {
  const s: Partial<KbSettings> = {};
  if (!c) return s;
  if (c.embedding_model !== undefined) s.embeddingModel = c.embedding_model;
  if (c.reranker_model !== undefined) s.rerankerModel = c.reranker_model;
  if (c.language !== undefined) s.language = c.language;
  if (c.top_k !== undefined) s.topK = c.top_k;
  if (c.score_threshold !== undefined) s.scoreThreshold = c.score_threshold;
  return s;
}

@Controller('v1/vector_stores')
export class VectorStoresController {
  constructor(private readonly kb: KnowledgeApi) {}

  @Post()
  @HttpCode(200)
  @Scopes('kb:write')
  @AdminAction('kb.create')
  async create(@CurrentPrincipal() p: Principal, @Body() body: unknown, @Req() req: FastifyRequest) {
    const b = parseBody(CreateStoreBody, body ?? {}, 'openai');
    const settings = settingsOf(b.corral);
    if (b.chunking_strategy) settings.chunking = b.chunking_strategy;
    const base = await this.kb.createBase(actorOf(p), {
      teamId: b.corral?.team_id,
      name: b.name,
      description: b.description,
      metadata: b.metadata ?? undefined,
      settings,
      fileIds: b.file_ids,
    });
    recordChange(req, {
      resource: `kb:${base.id}`,
      teamId: base.teamId,
      before: null,
      after: storeOut(base),
    });
    return storeOut(base);
  }

  @Get()
  @Scopes('kb:read')
  async list(@CurrentPrincipal() p: Principal, @Query() query: unknown) {
    const q = parseBody(ListQuery, query ?? {}, 'openai');
    return listOf(await this.kb.listBases(actorOf(p), q), storeOut);
  }

  @Get(':id')
  @Scopes('kb:read')
  async retrieve(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return storeOut(await this.kb.getBase(actorOf(p), id));
  }

  @Post(':id')
  @HttpCode(200)
  @Scopes('kb:write')
  @AdminAction('kb.update')
  async update(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Body() body: unknown,
    @Req() req: FastifyRequest,
  ) {
    recordChange(req, { resource: `kb:${id}` });
    const b = parseBody(UpdateStoreBody, body ?? {}, 'openai');
    const settings = settingsOf(b.corral);
    const actor = actorOf(p);
    const prior = await this.kb.getBase(actor, id);
    recordChange(req, { teamId: prior.teamId, before: storeOut(prior) });
    const base = await this.kb.updateBase(actor, id, {
      ...(b.name !== undefined && b.name !== null ? { name: b.name } : {}),
      ...(b.metadata !== undefined ? { metadata: b.metadata ?? {} } : {}),
      ...(Object.keys(settings).length ? { settings } : {}),
    });
    recordChange(req, { after: storeOut(base) });
    return storeOut(base);
  }

  @Delete(':id')
  @Scopes('kb:write')
  @AdminAction('kb.delete')
  async remove(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    recordChange(req, { resource: `kb:${id}` });
    const actor = actorOf(p);
    const prior = await this.kb.getBase(actor, id);
    recordChange(req, { teamId: prior.teamId, before: storeOut(prior) });
    await this.kb.deleteBase(actor, id);
    recordChange(req, { after: null });
    return { id, object: 'vector_store.deleted' as const, deleted: true };
  }

  @Post(':id/search')
  @HttpCode(200)
  @Scopes('kb:read')
  async search(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown) {
    const b = parseBody(SearchBody, body, 'openai');
    const query = Array.isArray(b.query) ? b.query.join(' ') : b.query;
    // rewrite_query is accepted and ignored: no model rewrites queries here.
    const result = await this.kb.search(actorOf(p), [id], {
      query,
      topK: b.max_num_results,
      scoreThreshold: b.ranking_options?.score_threshold,
      filter: b.filters,
      rerank: b.ranking_options?.ranker === 'none' ? false : undefined,
    });
    return {
      object: 'vector_store.search_results.page' as const,
      search_query: b.query,
      data: result.hits.map(hitOut),
      has_more: false,
      next_page: null,
    };
  }
}
