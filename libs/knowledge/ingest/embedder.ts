/**
 * How knowledge bases get vectors: through the same serving path as `/v1/embeddings` (registry
 * resolution, quota admission, metering to the team, the inference workers), never in the gateway.
 */
import { Injectable } from '@nestjs/common';
import { CorralError } from '@corral/common';
import { MeteringService, RunService } from '@corral/serving';

export interface EmbeddingModelInfo {
  name: string;
  digest: string;
  /** The model's output dimension (embedding length). */
  dimension: number;
  /** Tokens one input may hold (the model's trained context, capped at 8192). */
  windowTokens: number;
}

export interface EmbedRequest {
  teamId: string;
  model: string;
  inputs: string[];
  /** Names what asked, for audit and usage ('kb:ingest', 'kb:search'). */
  route: string;
  signal?: AbortSignal;
}

export abstract class Embedder {
  abstract describe(model: string): Promise<EmbeddingModelInfo>;
  abstract embed(req: EmbedRequest): Promise<{ vectors: number[][]; digest: string; promptTokens: number }>;
}

@Injectable()
export class ServingEmbedder extends Embedder {
  constructor(
    private readonly runs: RunService,
    private readonly metering: MeteringService,
  ) {
    super();
  }

  async describe(model: string): Promise<EmbeddingModelInfo> {
    const run = await this.runs.prepare(model, {}, undefined);
    if (!run.model.capabilities.includes('embedding')) {
      throw new CorralError(
        'bad_request',
        `model '${run.model.name}' cannot embed (it has no embedding capability); pick an embedding model or none for lexical search`,
        'embedding_model',
      );
    }
    const dimension = run.model.gguf.embeddingLength;
    if (!dimension)
      throw new CorralError(
        'bad_request',
        `model '${run.model.name}' does not declare its embedding length`,
        'embedding_model',
      );
    return {
      name: run.model.name,
      digest: run.model.digest,
      dimension,
      windowTokens: Math.min(run.model.gguf.contextLength ?? 512, 8192),
    };
  }

  async embed(req: EmbedRequest): Promise<{ vectors: number[][]; digest: string; promptTokens: number }> {
    const signal = req.signal ?? new AbortController().signal;
    return this.metering.run(
      {
        kind: 'embedding',
        exchange: {
          requestId: `kb-${Date.now().toString(36)}`,
          route: req.route,
          signal,
          statusSent: () => false,
          setHeaders: () => undefined,
        },
        caller: { teamId: req.teamId, keyId: null, userId: null },
        model: req.model,
        input: { inputs: req.inputs.length },
      },
      async (meter) => {
        const run = await this.runs.prepare(req.model, {}, undefined);
        const result = await this.runs.embed(meter, run, { inputs: req.inputs, truncate: true, signal });
        return { vectors: result.vectors, digest: run.model.digest, promptTokens: result.promptTokens };
      },
    );
  }
}
