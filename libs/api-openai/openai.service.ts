/**
 * Runs OpenAI requests on the shared serving layer: resolves the model through RunService (so
 * Modelfile parameters apply exactly as for Ollama requests), builds the prompt, and replies as
 * JSON or as an SSE stream.
 */
import { Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CorralError, isCorralError } from '@corral/common';
import type { OllamaOptions } from '@corral/dispatch';
import { buildChatPrompt, buildGeneratePrompt } from '@corral/prompt';
import { principalOf } from '@corral/auth';
import type { EndedRun } from '@corral/core';
import {
  MeteringService,
  RunService,
  callerOf,
  collect,
  exchangeOf,
  sendJson,
  type Meter,
  type PreparedRun,
} from '@corral/serving';
import { KnowledgeApi, ground, groundedFields, type GroundingRequest } from '@corral/knowledge';
import type { ChatPlan } from './chat.mapper';
import { chatCompletion } from './chat.response';
import { chatChunks } from './chat.stream';
import { completionChunks, textCompletion, type CompletionPlan } from './completion.mapper';
import type { EmbeddingRequest } from './dto/embedding.dto';
import { checkDimensions, embeddingInputs, embeddingList, type EmbeddingList } from './embedding.mapper';
import { openAiId, unixSeconds } from './ids';
import { sendSse } from './streaming';

/** OpenAI's wording for an unknown model, which its SDKs and tools show users as is. */
export function modelNotFound(name: string): CorralError {
  return new CorralError('model_not_found', `The model '${name}' does not exist`, 'model');
}

@Injectable()
export class OpenAiService {
  private readonly logger = new Logger('OpenAI');

  constructor(
    private readonly runs: RunService,
    private readonly metering: MeteringService,
    private readonly knowledge: KnowledgeApi,
  ) {}

  private metered<T>(
    kind: EndedRun['kind'],
    model: unknown,
    input: unknown,
    reply: FastifyReply,
    fn: (meter: Meter) => Promise<T>,
  ): Promise<T> {
    const caller = callerOf(principalOf(reply.request));
    return this.metering.run({ kind, exchange: exchangeOf(reply), caller, model, input }, fn);
  }

  async prepare(model: string, options: OllamaOptions): Promise<PreparedRun> {
    try {
      // OpenAI has no keep_alive; the server default applies.
      return await this.runs.prepare(model, options, undefined);
    } catch (e) {
      if (isCorralError(e) && e.code === 'model_not_found') throw modelNotFound(model);
      throw e;
    }
  }

  /** `knowledge`: ground the answer on knowledge bases and cite them (libs/knowledge/grounding). */
  chat(plan: ChatPlan, reply: FastifyReply, knowledge?: GroundingRequest): Promise<void> {
    const input = { messages: plan.messages, ...(plan.tools ? { tools: plan.tools } : {}) };
    return this.metered('chat', plan.model, input, reply, (meter) =>
      this.runChat(plan, reply, meter, knowledge),
    );
  }

  private async runChat(
    plan: ChatPlan,
    reply: FastifyReply,
    meter: Meter,
    knowledge: GroundingRequest | undefined,
  ): Promise<void> {
    const run = await this.prepare(plan.model, plan.options);
    // Another team's base is not found (404) here, before anything is generated.
    const grounded = knowledge
      ? await ground(this.knowledge, knowledge.actor, plan.messages, knowledge.spec)
      : undefined;
    const prompt = buildChatPrompt(run.model, {
      messages: grounded?.messages ?? plan.messages,
      ...(plan.tools ? { tools: plan.tools } : {}),
    });
    const meta = {
      id: openAiId('chatcmpl-'),
      created: unixSeconds(),
      model: run.model.name,
      toolMode: plan.toolMode,
    };
    const events = await this.runs.start(meter, run, {
      prompt,
      ...(plan.constraint ? { constraint: plan.constraint } : {}),
    });
    const final = grounded && ((content: string) => groundedFields(content, grounded.sources));
    if (plan.stream) {
      const ctx = { ...meta, includeUsage: plan.includeUsage, ...(final ? { final } : {}) };
      return sendSse(reply, chatChunks(events, ctx), meter);
    }
    const { text, done } = await collect(events);
    meter.setOutput({ content: text });
    const completion = chatCompletion(meta, text, done);
    if (!final) return sendJson(reply, completion);
    return sendJson(reply, { ...completion, ...final(completion.choices[0]?.message.content ?? '') });
  }

  completion(plan: CompletionPlan, reply: FastifyReply): Promise<void> {
    const input = { prompt: plan.prompt, ...(plan.suffix !== undefined ? { suffix: plan.suffix } : {}) };
    return this.metered('completion', plan.model, input, reply, (meter) =>
      this.runCompletion(plan, reply, meter),
    );
  }

  private async runCompletion(plan: CompletionPlan, reply: FastifyReply, meter: Meter): Promise<void> {
    const run = await this.prepare(plan.model, plan.options);
    // OpenAI ignores suffix for models that cannot insert; Ollama's prompt builder would refuse it.
    const insert = plan.suffix !== undefined && run.model.capabilities.includes('insert');
    if (plan.suffix !== undefined && !insert)
      this.logger.debug(`suffix ignored: ${run.model.name} cannot insert`);
    const prompt = buildGeneratePrompt(run.model, {
      prompt: plan.prompt,
      ...(insert ? { suffix: plan.suffix } : {}),
    });
    const meta = { id: openAiId('cmpl-'), created: unixSeconds(), model: run.model.name };
    const events = await this.runs.start(meter, run, { prompt });
    if (plan.stream)
      return sendSse(reply, completionChunks(events, { ...meta, includeUsage: plan.includeUsage }), meter);
    const { text, done } = await collect(events);
    meter.setOutput({ text });
    return sendJson(reply, textCompletion(meta, text, done));
  }

  embeddings(req: EmbeddingRequest, reply: FastifyReply): Promise<EmbeddingList> {
    return this.metered('embedding', req.model, { input: req.input }, reply, (meter) =>
      this.runEmbeddings(req, meter),
    );
  }

  private async runEmbeddings(req: EmbeddingRequest, meter: Meter): Promise<EmbeddingList> {
    const inputs = embeddingInputs(req.input);
    const run = await this.prepare(req.model, {});
    checkDimensions(req.dimensions, run.model.gguf.embeddingLength);
    // A client that leaves cancels its embedding too (Ollama's routes run theirs to the end).
    const result = await this.runs.embed(meter, run, { inputs, truncate: true, signal: meter.signal });
    return embeddingList(run.model.name, result.vectors, result.promptTokens, {
      dimensions: req.dimensions,
      encoding: req.encoding_format,
    });
  }
}
