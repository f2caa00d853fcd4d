/**
 * Runs OpenAI requests on the shared serving layer: resolves the model through RunService (so
 * Modelfile parameters apply exactly as for Ollama requests), builds the prompt, and replies as
 * JSON or as an SSE stream.
 */
import { Injectable, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CorralError, isCorralError } from '@corral/common';
import type { Constraint, OllamaOptions, Prompt } from '@corral/dispatch';
import { buildChatPrompt, buildGeneratePrompt } from '@corral/prompt';
import { RunService, type PreparedRun } from '@corral/serving';
import type { ChatPlan } from './chat.mapper';
import { chatCompletion } from './chat.response';
import { chatChunks } from './chat.stream';
import { completionChunks, textCompletion, type CompletionPlan } from './completion.mapper';
import type { EmbeddingRequest } from './dto/embedding.dto';
import { checkDimensions, embeddingInputs, embeddingList, type EmbeddingList } from './embedding.mapper';
import { openAiId, unixSeconds } from './ids';
import { clientGone, collect, primed, sendJson, sendSse } from './streaming';

/** OpenAI's wording for an unknown model, which its SDKs and tools show users as is. */
export function modelNotFound(name: string): CorralError {
  return new CorralError('model_not_found', `The model '${name}' does not exist`, 'model');
}

@Injectable()
export class OpenAiService {
  private readonly logger = new Logger('OpenAI');

  constructor(readonly runs: RunService) {}

  async prepare(model: string, options: OllamaOptions): Promise<PreparedRun> {
    try {
      // OpenAI has no keep_alive; the server default applies.
      return await this.runs.prepare(model, options, undefined);
    } catch (e) {
      if (isCorralError(e) && e.code === 'model_not_found') throw modelNotFound(model);
      throw e;
    }
  }

  async chat(plan: ChatPlan, reply: FastifyReply): Promise<void> {
    const run = await this.prepare(plan.model, plan.options);
    const prompt = buildChatPrompt(run.model, {
      messages: plan.messages,
      ...(plan.tools ? { tools: plan.tools } : {}),
    });
    const meta = {
      id: openAiId('chatcmpl-'),
      created: unixSeconds(),
      model: run.model.name,
      toolMode: plan.toolMode,
    };
    const events = await this.start(run, prompt, plan.constraint, reply);
    if (plan.stream) return sendSse(reply, chatChunks(events, { ...meta, includeUsage: plan.includeUsage }));
    const { text, done } = await collect(events);
    return sendJson(reply, chatCompletion(meta, text, done));
  }

  async completion(plan: CompletionPlan, reply: FastifyReply): Promise<void> {
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
    const events = await this.start(run, prompt, undefined, reply);
    if (plan.stream)
      return sendSse(reply, completionChunks(events, { ...meta, includeUsage: plan.includeUsage }));
    const { text, done } = await collect(events);
    return sendJson(reply, textCompletion(meta, text, done));
  }

  async embeddings(req: EmbeddingRequest, signal?: AbortSignal): Promise<EmbeddingList> {
    const inputs = embeddingInputs(req.input);
    const run = await this.prepare(req.model, {});
    checkDimensions(req.dimensions, run.model.gguf.embeddingLength);
    const result = await this.runs.scheduler.embed({ ...run.target, inputs, truncate: true, signal });
    return embeddingList(run.model.name, result.vectors, result.promptTokens, {
      dimensions: req.dimensions,
      encoding: req.encoding_format,
    });
  }

  private start(run: PreparedRun, prompt: Prompt, constraint: Constraint | undefined, reply: FastifyReply) {
    const signal = clientGone(reply);
    return primed(
      this.runs.scheduler.generate({
        ...run.target,
        prompt,
        sampling: run.sampling,
        ...(constraint ? { constraint } : {}),
        signal,
      }),
    );
  }
}
