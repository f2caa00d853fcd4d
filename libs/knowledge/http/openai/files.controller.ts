/**
 * /v1/files: what `openai.files.create/list/retrieve/delete/content` call. Uploads are multipart
 * (`file`, `purpose`), read as a stream with a cap (../multipart.ts); only knowledge-base purposes
 * are accepted.
 */
import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CorralConfig } from '@corral/config';
import { CorralError, parseBody } from '@corral/common';
import { AdminAction, CONFIG, recordChange } from '@corral/core';
import { CurrentPrincipal, Scopes, type Principal } from '@corral/auth';
import { KnowledgeApi } from '../../knowledge.service';
import { actorOf } from '../actor';
import { DEFAULT_MAX_FILE_BYTES, readUpload } from '../multipart';
import { FILE_PURPOSES, FileListQuery } from './dto';
import { fileOut, listOf } from './mappers';

/** A filename safe to put in a quoted Content-Disposition value. */
const asciiName = (name: string) => name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');

@Controller('v1/files')
export class FilesController {
  private readonly maxBytes: number;

  constructor(
    private readonly kb: KnowledgeApi,
    @Inject(CONFIG) config: CorralConfig,
  ) {
    this.maxBytes = config.knowledge?.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  @Post()
  @HttpCode(200)
  @Scopes('kb:write')
  @AdminAction('kb.file_upload')
  async create(@CurrentPrincipal() p: Principal, @Req() req: FastifyRequest) {
    const upload = await readUpload(req, this.maxBytes);
    const purpose = upload.fields.purpose;
    if (purpose === undefined) throw new CorralError('bad_request', "'purpose' is required", 'purpose');
    if (!(FILE_PURPOSES as readonly string[]).includes(purpose))
      throw new CorralError(
        'bad_request',
        `'purpose' must be one of ${FILE_PURPOSES.map((x) => `'${x}'`).join(', ')} (got '${purpose.slice(0, 64)}')`,
        'purpose',
      );
    const file = await this.kb.uploadFile(actorOf(p), {
      filename: upload.filename,
      purpose,
      bytes: upload.bytes,
    });
    recordChange(req, {
      resource: `file:${file.id}`,
      teamId: file.teamId,
      before: null,
      after: fileOut(file),
    });
    return fileOut(file);
  }

  @Get()
  @Scopes('kb:read')
  async list(@CurrentPrincipal() p: Principal, @Query() query: unknown) {
    const q = parseBody(FileListQuery, query ?? {}, 'openai');
    return listOf(await this.kb.listFiles(actorOf(p), q), fileOut);
  }

  @Get(':id')
  @Scopes('kb:read')
  async retrieve(@CurrentPrincipal() p: Principal, @Param('id') id: string) {
    return fileOut(await this.kb.getFile(actorOf(p), id));
  }

  @Get(':id/content')
  @Scopes('kb:read')
  async content(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Res() reply: FastifyReply) {
    const { file, bytes } = await this.kb.fileContent(actorOf(p), id);
    await reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', `attachment; filename="${asciiName(file.filename)}"`)
      .send(bytes);
  }

  @Delete(':id')
  @Scopes('kb:write')
  @AdminAction('kb.file_delete')
  async remove(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Req() req: FastifyRequest) {
    recordChange(req, { resource: `file:${id}` });
    const actor = actorOf(p);
    const file = await this.kb.getFile(actor, id);
    recordChange(req, { teamId: file.teamId, before: fileOut(file) });
    await this.kb.deleteFile(actor, id);
    recordChange(req, { after: null });
    return { id, object: 'file' as const, deleted: true };
  }
}
