/**
 * The read side of the OCI distribution API that Ollama's pull speaks: version check, manifests and
 * blobs (with byte ranges). Scope models:read; a key's model allow-list limits which repositories
 * (and so which blobs) it sees.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Controller, Get, Inject, Param, Req, Res, UseFilters } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { REGISTRY, auditFacts } from '@corral/core';
import { Scopes, hiddenModelsOf } from '@corral/auth';
import { MEDIA_TYPES, shortModelName, type ModelRegistry } from '@corral/registry';
import { OciError, OciExceptionFilter, ociBody } from './oci-errors';
import { parseRange } from './range';
import {
  assertNameAllowed,
  callerOf,
  hasScope,
  parseDigestParam,
  readableDigests,
  repoName,
} from './repository';

export const API_VERSION_HEADER = 'docker-distribution-api-version';

@Controller('v2')
@UseFilters(OciExceptionFilter)
export class OciApiController {
  constructor(@Inject(REGISTRY) private readonly registry: ModelRegistry) {}

  /**
   * Version check (`/v2/`): 200 for a caller with a valid key, 401 otherwise (clients probe auth
   * with it). Any other path under /v2 that no route takes is answered here in the OCI shape.
   */
  @Get(['', '*'])
  async version(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const rest = (req.params as Record<string, string | undefined>)['*'];
    if (rest)
      throw new OciError(404, 'NAME_UNKNOWN', `no such endpoint: ${req.method} ${req.url.split('?')[0]}`);
    await reply.header(API_VERSION_HEADER, 'registry/2.0').send({});
  }

  @Scopes('models:read')
  @Get(':namespace/:model/manifests/:reference')
  async manifest(
    @Param('namespace') namespace: string,
    @Param('model') model: string,
    @Param('reference') reference: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (/^sha256:/i.test(reference))
      throw new OciError(404, 'MANIFEST_UNKNOWN', 'manifests are served by tag, not by digest');
    const name = repoName(namespace, model, reference);
    auditFacts(req).model = shortModelName(name);
    assertNameAllowed(callerOf(req), name);
    await this.registry.init();
    const stored = await this.registry.manifests.locate(name);
    const bytes = stored ? await readFile(stored.path).catch(() => undefined) : undefined;
    if (!bytes)
      throw new OciError(404, 'MANIFEST_UNKNOWN', `manifest unknown: ${namespace}/${model}:${reference}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    void reply
      .header(API_VERSION_HEADER, 'registry/2.0')
      .header('content-type', MEDIA_TYPES.manifest)
      .header('docker-content-digest', digest)
      .header('etag', `"${digest}"`)
      .header('content-length', String(bytes.length));
    // For HEAD, Fastify measures the payload and drops it.
    await reply.send(bytes);
  }

  /** Blob by digest; GET and HEAD, with `Range: bytes=` (206/416). */
  @Get(':namespace/:model/blobs/:digest')
  async blob(
    @Param('namespace') namespace: string,
    @Param('model') model: string,
    @Param('digest') rawDigest: string,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const name = repoName(namespace, model);
    auditFacts(req).model = shortModelName(name).replace(/:latest$/, '');
    const digest = parseDigestParam(rawDigest);
    const caller = callerOf(req);
    const isHead = req.method === 'HEAD';
    // A pusher checks for blobs it can skip (HEAD, store-wide, as /api/blobs does); readers see
    // only blobs of models they may pull.
    const pusherHead = isHead && hasScope(caller, 'models:write');
    if (!pusherHead) {
      if (!hasScope(caller, 'models:read'))
        throw new OciError(403, 'DENIED', "this API key lacks the 'models:read' scope");
      assertNameAllowed(caller, name);
    }
    await this.registry.init();
    const size = await this.registry.blobs.size(digest);
    const visible =
      size !== undefined &&
      (pusherHead ||
        (await readableDigests(this.registry, caller, namespace, model, hiddenModelsOf(req))).has(digest));
    if (!visible) throw new OciError(404, 'BLOB_UNKNOWN', `blob unknown to registry: ${digest}`);

    void reply
      .header(API_VERSION_HEADER, 'registry/2.0')
      .header('docker-content-digest', digest)
      .header('etag', `"${digest}"`)
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'max-age=31536000');
    const range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
    if (range.kind === 'unsatisfiable') {
      await reply
        .status(416)
        .header('content-range', `bytes */${size}`)
        .header('content-type', 'application/json; charset=utf-8')
        .send(
          ociBody('RANGE_INVALID', `range not satisfiable: ${String(req.headers.range)} of ${size} bytes`),
        );
      return;
    }
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end : size - 1;
    void reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', String(end - start + 1));
    if (range.kind === 'partial')
      void reply.status(206).header('content-range', `bytes ${start}-${end}/${size}`);
    if (isHead || size === 0) {
      // An empty stream: Fastify's HEAD handling keeps the Content-Length set above for streams
      // (for an undefined payload it would say 0).
      await reply.send(Readable.from([]));
      return;
    }
    await reply.send(createReadStream(this.registry.blobs.path(digest), { start, end }));
  }
}
