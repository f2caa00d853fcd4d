/**
 * `/api/pull` and `/api/push` in Ollama's dialect: {model, insecure, stream}; progress as NDJSON
 * lines ({status, digest, total, completed}) or, with stream:false, one {status:"success"}. The
 * source must be allow-listed (CORRAL_REGISTRY_ALLOW); that is decided before any connection.
 * Errors before the first progress line are plain HTTP errors; later ones are an {error} line.
 */
import { Body, Controller, HttpCode, Inject, Logger, OnModuleInit, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AdminAction, CONFIG, REGISTRY, auditFacts } from '@corral/core';
import { z } from 'zod';
import { Scopes } from '@corral/auth';
import { CorralError, describeError } from '@corral/common';
import type { CorralConfig } from '@corral/config';
import { parseModelName, shortModelName, storageError, type ModelRegistry } from '@corral/registry';
import { StreamWriter, abortOnDisconnect } from '@corral/serving';
import type { ProgressMessage } from './client/progress';
import { sweepPartials } from './client/downloader';
import { partialDir, pullModel } from './client/pull';
import { pushModel } from './client/push';

const TransferBody = z.object({
  model: z.string().optional(),
  /** Ollama's older field name. */
  name: z.string().optional(),
  insecure: z.boolean().optional(),
  stream: z.boolean().optional(),
});

function parse(body: unknown): { model: string; insecure: boolean; stream: boolean } {
  const r = TransferBody.safeParse(body ?? {});
  if (!r.success) {
    const i = r.error.issues[0];
    throw new CorralError(
      'bad_request',
      `invalid request: ${i?.path.join('.') || 'body'}: ${i?.message ?? ''}`,
    );
  }
  const model = r.data.model ?? r.data.name;
  if (!model) throw new CorralError('bad_request', 'model is required', 'model');
  return { model, insecure: r.data.insecure ?? false, stream: r.data.stream ?? true };
}

/** Models entering or leaving this node are audit events (their action: `@AdminAction`) naming the model. */
function audit(req: FastifyRequest, model: string): void {
  const facts = auditFacts(req);
  try {
    facts.model = shortModelName(parseModelName(model));
  } catch {
    // an invalid name is refused by the transfer itself
  }
}

type Transfer = (progress: (p: ProgressMessage) => void, signal: AbortSignal) => Promise<unknown>;

/** Partial downloads nobody resumed within this time are deleted at start. */
const PARTIAL_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

@Controller('api')
export class PullPushController implements OnModuleInit {
  private readonly logger = new Logger('Distribution');

  constructor(
    @Inject(REGISTRY) private readonly registry: ModelRegistry,
    @Inject(CONFIG) private readonly config: CorralConfig,
  ) {}

  onModuleInit(): void {
    void sweepPartials(partialDir(this.registry.options.modelsDir), PARTIAL_MAX_AGE_MS).catch(
      () => undefined,
    );
  }

  @Scopes('models:write')
  @AdminAction('model.pull')
  @Post('pull')
  @HttpCode(200)
  async pull(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const b = parse(body);
    audit(req, b.model);
    await this.run(reply, b.stream, async (progress, signal) => {
      const r = await pullModel(this.registry, this.config.registry, b.model, progress, {
        insecure: b.insecure,
        signal,
      });
      auditFacts(req).detail = { manifest_digest: r.digest };
    });
  }

  @Scopes('models:write')
  @AdminAction('model.push')
  @Post('push')
  @HttpCode(200)
  async push(@Body() body: unknown, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const b = parse(body);
    audit(req, b.model);
    await this.run(reply, b.stream, (progress, signal) =>
      pushModel(this.registry, this.config.registry, b.model, progress, { insecure: b.insecure, signal }),
    );
  }

  private async run(reply: FastifyReply, stream: boolean, transfer: Transfer): Promise<void> {
    const abort = abortOnDisconnect(reply);
    if (!stream) {
      try {
        await transfer(() => undefined, abort.signal);
      } catch (e) {
        // The client went away: nobody to answer; the partials stay for the next pull.
        if (abort.signal.aborted) return;
        throw storageError(e);
      }
      await reply.send({ status: 'success' });
      return;
    }
    // The response starts with the first progress line, so refusals that come before it (allow-list,
    // name, missing model, the remote's 401/404) are ordinary HTTP errors.
    let writer: StreamWriter | undefined;
    try {
      await transfer((p) => {
        writer ??= new StreamWriter(reply, 'application/x-ndjson', {}, abort);
        writer.json(p);
      }, abort.signal);
    } catch (caught) {
      // A full or read-only models directory is a 507 / 503 with its reason, not a 500.
      const e = storageError(caught);
      if (abort.signal.aborted) return writer?.end();
      if (!writer) throw e;
      const d = describeError(e);
      if (d.status >= 500 && d.code === 'internal') {
        this.logger.error(`request ${reply.request.id} failed mid-transfer`, (e as Error)?.stack);
        d.message = `internal error (request id ${reply.request.id})`;
      }
      writer.json({ error: d.message });
    }
    writer?.end();
  }
}
