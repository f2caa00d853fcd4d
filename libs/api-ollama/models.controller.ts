/**
 * Model management in Ollama's dialect: list, show, copy, delete, create (streamed progress) and
 * the blob upload endpoints Ollama's client uses before /api/create.
 */
import { Body, Controller, Delete, Get, Head, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import type { ModelRegistry } from '@corral/registry';
import { REGISTRY, SCHEDULER, StreamWriter, abortOnDisconnect } from '@corral/serving';
import type { Scheduler } from '@corral/dispatch';
import { parseBody } from './dto/validate';
import { CopyBody, DeleteBody, ShowBody } from './dto/requests';
import { Scopes } from '@corral/auth';

@Controller('api')
export class ModelsController {
  constructor(
    @Inject(REGISTRY) private readonly registry: ModelRegistry,
    @Inject(SCHEDULER) private readonly scheduler: Scheduler,
  ) {}

  @Scopes('models:read')
  @Get('tags')
  async tags() {
    return { models: await this.registry.list() };
  }

  @Scopes('models:read')
  @Post('show')
  @HttpCode(200)
  async show(@Body() body: unknown) {
    const b = parseBody(ShowBody, body);
    const name = b.model ?? b.name;
    if (!name) throw new CorralError('bad_request', 'model is required', 'model');
    return this.registry.show(name, { verbose: b.verbose ?? false });
  }

  @Scopes('models:write')
  @Post('copy')
  @HttpCode(200)
  async copy(@Body() body: unknown): Promise<void> {
    const b = parseBody(CopyBody, body);
    await this.registry.copy(b.source, b.destination);
  }

  @Scopes('models:write')
  @Delete('delete')
  @HttpCode(200)
  async remove(@Body() body: unknown): Promise<void> {
    const b = parseBody(DeleteBody, body);
    const name = b.model ?? b.name;
    if (!name) throw new CorralError('bad_request', 'model is required', 'model');
    const resolved = await this.registry.resolve(name);
    await this.scheduler.unload(resolved.name);
    await this.registry.delete(name);
  }

  @Scopes('models:write')
  @Post('create')
  @HttpCode(200)
  async create(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new CorralError('bad_request', 'request body must be a JSON object');
    }
    const req = body as Parameters<ModelRegistry['create']>[0];
    const abort = abortOnDisconnect(reply);
    if ((body as { stream?: boolean }).stream === false) {
      await this.registry.create(req, () => undefined, abort.signal);
      await reply.send({ status: 'success' });
      return;
    }
    // Importing a GGUF only reads headers and links uploaded blobs, so it finishes quickly: the
    // whole create runs before the response starts, and any problem is a plain HTTP error (a
    // corrupt file is a 400, not an error line inside a 200 stream). The progress is then replayed.
    const statuses: string[] = [];
    await this.registry.create(req, (status) => statuses.push(status), abort.signal);
    const writer = new StreamWriter(reply, 'application/x-ndjson', {}, abort);
    for (const status of statuses) writer.json({ status });
    writer.end();
  }

  @Scopes('models:write')
  @Head('blobs/:digest')
  async hasBlob(@Param('digest') digest: string, @Res() reply: FastifyReply): Promise<void> {
    const exists = await this.registry.blobs.has(digest);
    await reply.status(exists ? 200 : 404).send();
  }

  @Scopes('models:write')
  @Post('blobs/:digest')
  async putBlob(
    @Param('digest') digest: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (await this.registry.blobs.has(digest)) {
      req.raw.resume();
      await reply.status(200).send();
      return;
    }
    await this.registry.blobs.put(digest, req.raw);
    await reply.status(201).send();
  }
}
