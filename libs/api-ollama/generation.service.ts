/**
 * Ollama's /api/generate and /api/chat: turns a validated request into a prompt, starts it on the
 * shared pipeline (RunService.start) and writes Ollama's NDJSON (or one JSON object when stream is
 * false) through reply.mapper.ts.
 */
import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CorralError } from '@corral/common';
import { promptSizeProblem, type Prompt, type ToolDef } from '@corral/worker-protocol';
import { buildChatPrompt, buildGeneratePrompt } from '@corral/prompt';
import { principalOf } from '@corral/auth';
import {
  MeteringService,
  RunService,
  callerOf,
  exchangeOf,
  nsSince,
  sendJson,
  streamReply,
  type Meter,
  type PreparedRun,
} from '@corral/serving';
import { KnowledgeApi, ground, groundedFields, type GroundingSource, type KbActor } from '@corral/knowledge';
import type { ChatBody, GenerateBody } from './dto/requests';
import { toChatMessages, toToolDefs } from './chat.mapper';
import { formatToConstraint } from './format';
import { NDJSON, OllamaReply, ollamaPieces, type Kind, type Piece } from './reply.mapper';

/** A prompt far longer than the context is refused before it is tokenized. */
function checkPromptSize(chars: number, run: PreparedRun, field: string): void {
  const problem = promptSizeProblem(chars, run.target.spec.numCtx);
  if (problem) throw new CorralError('bad_request', problem, field);
}

/** Grounded chat: the final (`done: true`) object carries the citations of the content replied. */
async function* withCitations(
  pieces: AsyncIterable<Piece>,
  sources: readonly GroundingSource[],
): AsyncGenerator<Piece> {
  let content = '';
  for await (const piece of pieces) {
    const message = piece.message as { content?: unknown } | undefined;
    if (typeof message?.content === 'string') content += message.content;
    yield piece.done === true ? { ...piece, ...groundedFields(content, sources) } : piece;
  }
}

@Injectable()
export class GenerationService {
  constructor(
    private readonly runs: RunService,
    private readonly metering: MeteringService,
    private readonly knowledge: KnowledgeApi,
  ) {}

  private metered(
    kind: Kind,
    body: GenerateBody | ChatBody,
    reply: FastifyReply,
    input: unknown,
    fn: (meter: Meter) => Promise<void>,
  ): Promise<void> {
    const caller = callerOf(principalOf(reply.request));
    return this.metering.run({ kind, exchange: exchangeOf(reply), caller, model: body.model, input }, fn);
  }

  /** Empty prompt / no messages: load (or with keep_alive 0, unload) and answer at once. */
  private async loadOnly(kind: Kind, run: PreparedRun, reply: FastifyReply, start: bigint): Promise<void> {
    const base = { model: run.model.name, created_at: new Date().toISOString() };
    const body =
      kind === 'generate'
        ? { ...base, response: '' }
        : { ...base, message: { role: 'assistant', content: '' } };
    if (run.target.keepAliveMs === 0) {
      await this.runs.unload(run.model.name);
      await reply.send({ ...body, done: true, done_reason: 'unload' });
      return;
    }
    const loadNs = await this.runs.load(run.target);
    await reply.send({
      ...body,
      done: true,
      done_reason: 'load',
      total_duration: nsSince(start),
      load_duration: loadNs,
    });
  }

  private requireCompletion(run: PreparedRun, kind: Kind): void {
    if (!run.model.capabilities.includes('completion')) {
      throw new CorralError('bad_request', `"${run.model.name}" does not support ${kind}`);
    }
  }

  generate(body: GenerateBody, reply: FastifyReply): Promise<void> {
    const input = { prompt: body.prompt, system: body.system, suffix: body.suffix };
    return this.metered('generate', body, reply, input, (meter) => this.runGenerate(body, reply, meter));
  }

  /** `actor`: on whose behalf `body.knowledge` is searched (grounded chat). */
  chat(body: ChatBody, reply: FastifyReply, actor?: KbActor): Promise<void> {
    const input = { messages: body.messages, ...(body.tools ? { tools: body.tools } : {}) };
    return this.metered('chat', body, reply, input, (meter) => this.runChat(body, reply, meter, actor));
  }

  private async runGenerate(body: GenerateBody, reply: FastifyReply, meter: Meter): Promise<void> {
    const start = process.hrtime.bigint();
    const run = await this.runs.prepare(body.model, body.options, body.keep_alive);
    if (body.images?.length)
      throw new CorralError('bad_request', `"${run.model.name}" does not support images`, 'images');
    if (!body.prompt && !body.suffix) return this.loadOnly('generate', run, reply, start);
    this.requireCompletion(run, 'generate');
    checkPromptSize(
      [body.prompt, body.system, body.suffix, body.template].reduce((n, s) => n + (s?.length ?? 0), 0),
      run,
      'prompt',
    );
    const prompt = buildGeneratePrompt(run.model, {
      prompt: body.prompt ?? '',
      system: body.system,
      template: body.template,
      raw: body.raw,
      suffix: body.suffix,
      think: body.think === undefined ? undefined : body.think !== false,
    });
    await this.stream('generate', run, prompt, body, reply, start, undefined, meter);
  }

  private async runChat(
    body: ChatBody,
    reply: FastifyReply,
    meter: Meter,
    actor: KbActor | undefined,
  ): Promise<void> {
    const start = process.hrtime.bigint();
    const run = await this.runs.prepare(body.model, body.options, body.keep_alive);
    if (body.messages.length === 0) return this.loadOnly('chat', run, reply, start);
    this.requireCompletion(run, 'chat');
    const messages = toChatMessages(body.messages);
    // Another team's base is not found (404) here, before anything is generated.
    if (body.knowledge && !actor) throw new CorralError('internal', 'grounded chat without an actor');
    const grounded =
      body.knowledge && actor ? await ground(this.knowledge, actor, messages, body.knowledge) : undefined;
    checkPromptSize(
      body.messages.reduce((n, m) => n + m.content.length + (m.thinking?.length ?? 0), 0) +
        (grounded?.messages[0]?.content.length ?? 0),
      run,
      'messages',
    );
    const tools = toToolDefs(body.tools);
    const prompt = buildChatPrompt(run.model, {
      messages: grounded?.messages ?? messages,
      tools,
      think: body.think === undefined ? undefined : body.think !== false,
    });
    await this.stream('chat', run, prompt, body, reply, start, tools, meter, grounded?.sources);
  }

  private async stream(
    kind: Kind,
    run: PreparedRun,
    prompt: Prompt,
    body: GenerateBody | ChatBody,
    reply: FastifyReply,
    start: bigint,
    tools: ToolDef[] | undefined,
    meter: Meter,
    sources?: readonly GroundingSource[],
  ): Promise<void> {
    const events = await this.runs.start(meter, run, {
      prompt,
      constraint: formatToConstraint(body.format),
      returnContext: kind === 'generate' && !(body as GenerateBody).raw,
    });
    const streaming = body.stream !== false;
    const out = new OllamaReply({
      kind,
      model: run.model.name,
      streaming,
      think: body.think !== undefined && body.think !== false,
      tools: kind === 'chat' && !body.format ? tools : undefined,
      start,
    });
    const replied = ollamaPieces(events, out, meter);
    const pieces = sources ? withCitations(replied, sources) : replied;
    if (streaming) return streamReply(reply, pieces, NDJSON, meter);
    let last: Piece | undefined;
    for await (const piece of pieces) last = piece;
    await sendJson(reply, last);
  }
}
