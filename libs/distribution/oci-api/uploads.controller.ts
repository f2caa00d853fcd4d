/**
 * The write side of the OCI distribution API, so `corral push` (and Ollama's push) can target this
 * node: upload sessions (POST, PATCH chunks, PUT ?digest= to finish; or one monolithic POST/PUT),
 * and manifests (PUT) that are accepted only when every blob they name is here with its size.
 * Scope models:write; a key's model allow-list limits the names it may push.
 */

import {
  Controller,
  Delete,
  Get,
  Inject,
  OnModuleDestroy,
  OnModuleInit,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminAction, CONFIG, REGISTRY, auditFacts } from '@corral/core';
import { Scopes } from '@corral/auth';
import { CorralError } from '@corral/common';
import { normalizeDigest, parseManifest, shortModelName, type ModelRegistry } from '@corral/registry';
import type { CorralConfig } from '@corral/config';
import { MAX_MANIFEST_BYTES } from '../client/registry-client';
import { OciError, OciExceptionFilter } from './oci-errors';
import { API_VERSION_HEADER } from './oci-api.controller';
import { assertNameAllowed, callerOf, parseDigestParam, repoName } from './repository';
import { UploadStore } from './upload-store';

@Controller('v2')
@UseFilters(OciExceptionFilter)
@Scopes('models:write')
export class UploadsController implements OnModuleInit, OnModuleDestroy {
  private readonly uploads: UploadStore;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(REGISTRY) private readonly registry: ModelRegistry,
    @Inject(CONFIG) private readonly config: CorralConfig,
  ) {
    this.uploads = new UploadStore(registry.options.modelsDir);
  }

  /** Sessions idle longer than CORRAL_BLOB_GC_GRACE are abandoned: at start and on a timer. */
  onModuleInit(): void {
    const idle = this.config.blobGcGraceMs;
    const sweep = () => void this.uploads.sweep(idle).catch(() => undefined);
    sweep();
    const every = this.config.blobGcIntervalMs;
    if (every > 0) {
      this.timer = setInterval(sweep, every);
      this.timer.unref();
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Opens an upload session (202 + Location), or stores a whole blob at once with `?digest=`. */
  // Nest drops a trailing slash from paths, so `.../uploads/` (what Ollama's client sends) is the
  // wildcard route with an empty '*'.
  @AdminAction('model.blob_upload')
  @Post([':namespace/:model/blobs/uploads', ':namespace/:model/blobs/uploads/*'])
  async start(
    @Param('namespace') namespace: string,
    @Param('model') model: string,
    @Query('digest') digest: string | undefined,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const rest = (req.params as Record<string, string | undefined>)['*'];
    if (rest)
      throw new OciError(404, 'NAME_UNKNOWN', `no such endpoint: ${req.method} ${req.url.split('?')[0]}`);
    assertNameAllowed(callerOf(req), repoName(namespace, model));
    await this.registry.init();
    const id = await this.uploads.create();
    if (digest !== undefined) {
      const d = parseDigestParam(digest);
      try {
        await this.uploads.append(id, req.raw);
      } catch (e) {
        await this.uploads.cancel(id);
        throw e;
      }
      await this.uploads.finish(id, d, this.registry.blobs);
      return this.created(reply, namespace, model, d);
    }
    req.raw.resume();
    await reply
      .status(202)
      .header(API_VERSION_HEADER, 'registry/2.0')
      .header('location', `/v2/${namespace}/${model}/blobs/uploads/${id}`)
      .header('docker-upload-uuid', id)
      .header('range', '0-0')
      .header('content-length', '0')
      .send();
  }

  @Get(':namespace/:model/blobs/uploads/:id')
  async status(
    @Param('namespace') namespace: string,
    @Param('model') model: string,
    @Param('id') id: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    assertNameAllowed(callerOf(req), repoName(namespace, model));
    const size = await this.uploads.size(id);
    await this.progress(reply.status(204), namespace, model, id, size).send();
  }

  /** Appends a chunk; `Content-Range: <start>-<end>` must continue where the session stands. */
  @AdminAction('model.blob_upload')
  @Patch(':namespace/:model/blobs/uploads/:id')
  async chunk(
    @Param('namespace') namespace: string,
    @Param('model') model: string,
    @Param('id') id: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    assertNameAllowed(callerOf(req), repoName(namespace, model));
    const start = parseContentRange(req.headers['content-range']);
    const size = await this.uploads.append(id, req.raw, start);
    await this.progress(reply.status(202), namespace, model, id, size).send();
  }

  /** Finishes a session: an optional last chunk, then the digest check and link. */
  @AdminAction('model.blob_upload')
  @Put(':namespace/:model/blobs/uploads/:id')
  async finish(
    @Param('namespace') namespace: string,
    @Param('model') model: string,
    @Param('id') id: string,
    @Query('digest') digest: string | undefined,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    assertNameAllowed(callerOf(req), repoName(namespace, model));
    if (digest === undefined)
      throw new OciError(400, 'DIGEST_INVALID', 'the digest query parameter is required');
    const d = parseDigestParam(digest);
    await this.uploads.append(id, req.raw);
    await this.uploads.finish(id, d, this.registry.blobs);
    this.created(reply, namespace, model, d);
  }

  @AdminAction('model.blob_upload_cancel')
  @Delete(':namespace/:model/blobs/uploads/:id')
  async cancel(
    @Param('namespace') namespace: string,
    @Param('model') model: string,
    @Param('id') id: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    assertNameAllowed(callerOf(req), repoName(namespace, model));
    await this.uploads.size(id);
    await this.uploads.cancel(id);
    await reply.status(204).send();
  }

  /** Stores a manifest under `<namespace>/<model>:<tag>` once every blob it names is here. */
  @AdminAction('model.push_received')
  @Put(':namespace/:model/manifests/:reference')
  async putManifest(
    @Param('namespace') namespace: string,
    @Param('model') model: string,
    @Param('reference') reference: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const name = repoName(namespace, model, reference);
    auditFacts(req).model = shortModelName(name);
    assertNameAllowed(callerOf(req), name);
    const bytes = await readLimited(req, MAX_MANIFEST_BYTES);
    let manifest;
    try {
      manifest = parseManifest(bytes.toString('utf8'), shortModelName(name));
    } catch (e) {
      throw new OciError(400, 'MANIFEST_INVALID', `manifest invalid: ${(e as Error).message}`);
    }
    const refs = [...manifest.layers, ...(manifest.config?.digest ? [manifest.config] : [])];
    await this.registry.init();
    for (const ref of refs) {
      const d = normalizeDigest(ref.digest);
      const size = await this.registry.blobs.size(d);
      if (size === undefined)
        throw new OciError(400, 'MANIFEST_BLOB_UNKNOWN', `blob unknown to registry: ${d}`);
      if (ref.size !== undefined && ref.size !== size)
        throw new OciError(400, 'SIZE_INVALID', `blob ${d} is ${size} bytes, the manifest says ${ref.size}`);
    }
    let digest: string;
    try {
      digest = await this.registry.installManifest(name, bytes, this.registry.blobs.lease());
    } catch (e) {
      if (e instanceof CorralError && e.status === 400)
        throw new OciError(400, 'MANIFEST_BLOB_UNKNOWN', e.message);
      throw e;
    }
    auditFacts(req).detail = { manifest_digest: digest };
    await reply
      .status(201)
      .header(API_VERSION_HEADER, 'registry/2.0')
      .header('location', `/v2/${namespace}/${model}/manifests/${reference}`)
      .header('docker-content-digest', digest)
      .header('content-length', '0')
      .send();
  }

  private created(reply: FastifyReply, namespace: string, model: string, digest: string): void {
    void reply
      .status(201)
      .header(API_VERSION_HEADER, 'registry/2.0')
      .header('location', `/v2/${namespace}/${model}/blobs/${digest}`)
      .header('docker-content-digest', digest)
      .header('content-length', '0')
      .send();
  }

  private progress(
    reply: FastifyReply,
    namespace: string,
    model: string,
    id: string,
    size: number,
  ): FastifyReply {
    return reply
      .header(API_VERSION_HEADER, 'registry/2.0')
      .header('location', `/v2/${namespace}/${model}/blobs/uploads/${id}`)
      .header('docker-upload-uuid', id)
      .header('range', `0-${Math.max(0, size - 1)}`)
      .header('content-length', '0');
  }
}

/** `Content-Range: <start>-<end>` (OCI's form, also `bytes <start>-<end>/<total>`) → start. */
function parseContentRange(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw new OciError(416, 'BLOB_UPLOAD_INVALID', `invalid Content-Range '${header}'`);
  return Number(m[1]);
}

async function readLimited(req: FastifyRequest, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req.raw as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new OciError(413, 'SIZE_INVALID', `manifest is larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
