import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { CorralError } from '@corral/common';
import { principalOf } from '@corral/auth';
import { MeteringService, RunService, callerOf, exchangeOf, nsSince, type Meter } from '@corral/serving';
import type { EmbedBody, LegacyEmbeddingsBody } from './dto/requests';

/** Ollama's /api/embed (batch, L2-normalised) and the legacy /api/embeddings (one prompt). */
@Injectable()
export class EmbeddingService {
  constructor(
    private readonly runs: RunService,
    private readonly metering: MeteringService,
  ) {}

  private metered<T>(model: unknown, input: unknown, reply: FastifyReply, fn: (meter: Meter) => Promise<T>) {
    const caller = callerOf(principalOf(reply.request));
    return this.metering.run({ kind: 'embedding', exchange: exchangeOf(reply), caller, model, input }, fn);
  }

  embed(body: z.infer<typeof EmbedBody>, reply: FastifyReply) {
    return this.metered(body.model, { input: body.input }, reply, (meter) => this.runEmbed(body, meter));
  }

  private async runEmbed(body: z.infer<typeof EmbedBody>, meter: Meter) {
    const start = process.hrtime.bigint();
    const run = await this.runs.prepare(body.model, body.options, body.keep_alive);
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    if (inputs.length === 0) {
      return {
        model: run.model.name,
        embeddings: [],
        total_duration: nsSince(start),
        load_duration: 0,
        prompt_eval_count: 0,
      };
    }
    const r = await this.runs.embed(meter, run, { inputs, truncate: body.truncate !== false });
    let vectors = r.vectors;
    if (body.dimensions !== undefined) {
      const dim = vectors[0]?.length ?? 0;
      if (body.dimensions > dim) {
        throw new CorralError(
          'bad_request',
          `dimensions must be at most ${dim} for this model`,
          'dimensions',
        );
      }
      vectors = vectors.map((v) => normalise(v.slice(0, body.dimensions)));
    }
    return {
      model: run.model.name,
      embeddings: vectors,
      total_duration: nsSince(start),
      load_duration: r.loadDurationNs,
      prompt_eval_count: r.promptTokens,
    };
  }

  legacy(body: z.infer<typeof LegacyEmbeddingsBody>, reply: FastifyReply) {
    return this.metered(body.model, { prompt: body.prompt }, reply, async (meter) => {
      const run = await this.runs.prepare(body.model, body.options, body.keep_alive);
      if (body.prompt === '') return { embedding: [] };
      const r = await this.runs.embed(meter, run, { inputs: [body.prompt], truncate: true });
      return { embedding: r.vectors[0] ?? [] };
    });
  }
}

function normalise(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return n > 0 ? v.map((x) => x / n) : v;
}
