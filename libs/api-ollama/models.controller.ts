/**
 * Model management in Ollama's dialect: list, show, copy, delete, create (streamed progress) and
 * the blob upload endpoints Ollama's client uses before /api/create.
 */
import { Body, Controller, Delete, Get, Head, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CorralError } from '@corral/common';
import { mapStorageErrors, type ModelRegistry, type ResolvedModel } from '@corral/registry';
import { AdminAction, REGISTRY, SCHEDULER, recordChange } from '@corral/core';
import { StreamWriter, abortOnDisconnect } from '@corral/serving';
import type { Scheduler } from '@corral/dispatch';
import { parseBody } from './dto/validate';
import { CopyBody, DeleteBody, ShowBody } from './dto/requests';
import { Scopes } from '@corral/auth';

/** What the audit log keeps of a model before and after a change. */
function modelView(r: ResolvedModel) {
  return { name: r.name, digest: r.digest, model_digest: r.modelDigest, size: r.size, details: r.details };
}

/**
 * What a create asked to build from, for its audit event (a refused one too): `from`, and the
 * legacy server paths (`path`, the Modelfile's FROM and ADAPTER lines) as the caller wrote them.
 * Never anything read from the server's disk.
 */
function createSources(body: object): Record<string, unknown> {
  const b = body as { from?: unknown; path?: unknown; modelfile?: unknown };
  const out: Record<string, unknown> = {};
  const cap = (v: string) => v.slice(0, 1000);
  if (typeof b.from === 'string') out.from = cap(b.from);
  if (typeof b.path === 'string') out.path = cap(b.path);
  if (typeof b.modelfile === 'string') {
    // Only the instruction lines that name a source; a Modelfile that does not parse still shows them.
    const lines = b.modelfile.split(/\r?\n/).map((l) => l.trim());
    const arg = (cmd: string) =>
      lines
        .filter((l) => l.toUpperCase().startsWith(`${cmd} `))
        .map((l) => cap(l.slice(cmd.length + 1).trim()));
    const from = arg('FROM');
    const adapters = arg('ADAPTER');
    if (from.length) out.modelfile_from = from[0];
    if (adapters.length) out.modelfile_adapters = adapters.slice(0, 16);
  }
  return out;
}

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
  @AdminAction('model.copy')
  async copy(@Body() body: unknown, @Req() req: FastifyRequest): Promise<void> {
    const b = parseBody(CopyBody, body);
    recordChange(req, { resource: `model:${b.destination}`, detail: { source: b.source } });
    const before = await this.find(b.destination);
    await this.registry.copy(b.source, b.destination);
    recordChange(req, { before, after: await this.find(b.destination) });
  }

  @Scopes('models:write')
  @Delete('delete')
  @HttpCode(200)
  @AdminAction('model.delete')
  async remove(@Body() body: unknown, @Req() req: FastifyRequest): Promise<void> {
    const b = parseBody(DeleteBody, body);
    const name = b.model ?? b.name;
    if (!name) throw new CorralError('bad_request', 'model is required', 'model');
    recordChange(req, { resource: `model:${name}` });
    const resolved = await this.registry.resolve(name);
    recordChange(req, { resource: `model:${resolved.name}`, before: modelView(resolved) });
    await this.scheduler.unload(resolved.name);
    await this.registry.delete(name);
    recordChange(req, { after: null });
  }

  @Scopes('models:write')
  @Post('create')
  @HttpCode(200)
  @AdminAction('model.create')
  async create(
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new CorralError('bad_request', 'request body must be a JSON object');
    }
    const req = body as Parameters<ModelRegistry['create']>[0];
    const b = body as { model?: unknown; name?: unknown };
    const target = typeof b.model === 'string' ? b.model : typeof b.name === 'string' ? b.name : undefined;
    recordChange(request, {
      resource: target ? `model:${target}` : undefined,
      detail: { ...(target ? { model: target } : {}), ...createSources(body) },
    });
    const before = target ? await this.find(target) : null;
    recordChange(request, { before });
    const audited = async () => {
      if (target) recordChange(request, { after: await this.find(target) });
    };
    const abort = abortOnDisconnect(reply);
    if ((body as { stream?: boolean }).stream === false) {
      await this.registry.create(req, () => undefined, abort.signal);
      await audited();
      await reply.send({ status: 'success' });
      return;
    }
    // Importing a GGUF only reads headers and links uploaded blobs, so it finishes quickly: the
    // whole create runs before the response starts, and any problem is a plain HTTP error (a
    // corrupt file is a 400, not an error line inside a 200 stream). The progress is then replayed.
    const statuses: string[] = [];
    await this.registry.create(req, (status) => statuses.push(status), abort.signal);
    await audited();
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
  @AdminAction('model.blob_upload')
  async putBlob(
    @Param('digest') digest: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    recordChange(req, { resource: `blob:${digest}` });
    if (await this.registry.blobs.has(digest)) {
      req.raw.resume();
      recordChange(req, { before: { digest }, after: { digest } });
      await reply.status(200).send();
      return;
    }
    await mapStorageErrors(() => this.registry.blobs.put(digest, req.raw));
    recordChange(req, { before: null, after: { digest } });
    await reply.status(201).send();
  }

  /** The model as the audit log shows it, or null when there is none by that name. */
  private async find(name: string) {
    try {
      return modelView(await this.registry.resolve(name));
    } catch {
      return null;
    }
  }
}
