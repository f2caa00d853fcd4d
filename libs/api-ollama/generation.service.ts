/**
 * Ollama's /api/generate and /api/chat: turns a validated request into a scheduled generation and
 * writes Ollama's NDJSON (or one JSON object when stream is false), with timings in nanoseconds.
 */
import { Injectable } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { CorralError, describeError } from '@corral/common';
import {
  promptSizeProblem,
  type DoneResult,
  type GenerationEvent,
  type Prompt,
  type ToolDef,
} from '@corral/dispatch';
import { buildChatPrompt, buildGeneratePrompt, parseToolCalls } from '@corral/prompt';
import { principalOf } from '@corral/auth';
import {
  MeteringService,
  RunService,
  StreamWriter,
  abortOnDisconnect,
  callerOf,
  nsSince,
  type Meter,
  type PreparedRun,
} from '@corral/serving';
import type { ChatBody, GenerateBody } from './dto/requests';
import { looksLikeToolCall, toChatMessages, toToolDefs, toWireToolCalls } from './chat.mapper';
import { formatToConstraint } from './format';
import { ThinkingSplitter } from './thinking';

type Kind = 'generate' | 'chat';

function timings(done: DoneResult, start: bigint) {
  return {
    done_reason: done.doneReason === 'cancelled' ? 'stop' : done.doneReason,
    total_duration: nsSince(start),
    load_duration: done.loadDurationNs,
    prompt_eval_count: done.promptTokens,
    prompt_eval_duration: done.promptEvalDurationNs,
    eval_count: done.completionTokens,
    eval_duration: done.evalDurationNs,
  };
}

/** A prompt far longer than the context is refused before it is tokenized. */
function checkPromptSize(chars: number, run: PreparedRun, field: string): void {
  const problem = promptSizeProblem(chars, run.target.spec.numCtx);
  if (problem) throw new CorralError('bad_request', problem, field);
}

@Injectable()
export class GenerationService {
  constructor(
    private readonly runs: RunService,
    private readonly metering: MeteringService,
  ) {}

  private metered(
    kind: Kind,
    body: GenerateBody | ChatBody,
    reply: FastifyReply,
    input: unknown,
    fn: (meter: Meter) => Promise<void>,
  ): Promise<void> {
    const caller = callerOf(principalOf(reply.request));
    return this.metering.run({ kind, reply, caller, model: body.model, input }, fn);
  }

  /** Empty prompt / no messages: load (or with keep_alive 0, unload) and answer at once. */
  private async loadOnly(kind: Kind, run: PreparedRun, reply: FastifyReply, start: bigint): Promise<void> {
    const base = { model: run.model.name, created_at: new Date().toISOString() };
    const body =
      kind === 'generate'
        ? { ...base, response: '' }
        : { ...base, message: { role: 'assistant', content: '' } };
    if (run.target.keepAliveMs === 0) {
      await this.runs.scheduler.unload(run.model.name);
      await reply.send({ ...body, done: true, done_reason: 'unload' });
      return;
    }
    const loadNs = await this.runs.scheduler.load(run.target);
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

  chat(body: ChatBody, reply: FastifyReply): Promise<void> {
    const input = { messages: body.messages, ...(body.tools ? { tools: body.tools } : {}) };
    return this.metered('chat', body, reply, input, (meter) => this.runChat(body, reply, meter));
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

  private async runChat(body: ChatBody, reply: FastifyReply, meter: Meter): Promise<void> {
    const start = process.hrtime.bigint();
    const run = await this.runs.prepare(body.model, body.options, body.keep_alive);
    if (body.messages.length === 0) return this.loadOnly('chat', run, reply, start);
    this.requireCompletion(run, 'chat');
    checkPromptSize(
      body.messages.reduce((n, m) => n + m.content.length + (m.thinking?.length ?? 0), 0),
      run,
      'messages',
    );
    const tools = toToolDefs(body.tools);
    const prompt = buildChatPrompt(run.model, {
      messages: toChatMessages(body.messages),
      tools,
      think: body.think === undefined ? undefined : body.think !== false,
    });
    await this.stream('chat', run, prompt, body, reply, start, tools, meter);
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
  ): Promise<void> {
    const streaming = body.stream !== false;
    const abort = abortOnDisconnect(reply);
    const admitted = await meter.admit(run, { prompt });
    const generation = this.runs.scheduler.generate({
      ...admitted.target,
      prompt,
      sampling: admitted.sampling,
      constraint: formatToConstraint(body.format),
      returnContext: kind === 'generate' && !(body as GenerateBody).raw,
      signal: abort.signal,
    });
    const events = meter.tap(generation);
    // The first event decides between an HTTP error (nothing sent yet) and a stream.
    const it = events[Symbol.asyncIterator]();
    const first = await it.next();
    const name = run.model.name;
    const think = body.think !== undefined && body.think !== false ? new ThinkingSplitter() : undefined;
    const mayCallTools = kind === 'chat' && tools !== undefined && !body.format;
    let toolMode: 'undecided' | 'buffer' | 'stream' = mayCallTools ? 'undecided' : 'stream';
    let pending = '';
    let full = '';
    let fullThinking = '';
    const writer = streaming ? new StreamWriter(reply, 'application/x-ndjson', {}, abort) : undefined;

    const piece = (text: string, thinking: string) => {
      const created_at = new Date().toISOString();
      if (kind === 'generate')
        return { model: name, created_at, response: text, ...(thinking ? { thinking } : {}), done: false };
      return {
        model: name,
        created_at,
        message: { role: 'assistant', content: text, ...(thinking ? { thinking } : {}) },
        done: false,
      };
    };
    const emit = (text: string) => {
      let thinking = '';
      if (think) ({ thinking, content: text } = think.push(text));
      full += text;
      fullThinking += thinking;
      if (writer && (text || thinking)) writer.json(piece(text, thinking));
    };
    const onText = (text: string) => {
      if (toolMode === 'stream') return emit(text);
      pending += text;
      if (toolMode === 'undecided' && pending.trim().length > 0) {
        toolMode = looksLikeToolCall(pending) ? 'buffer' : 'stream';
        if (toolMode === 'stream') {
          const p = pending;
          pending = '';
          emit(p);
        }
      }
    };

    let done: DoneResult | undefined;
    try {
      let ev: IteratorResult<GenerationEvent> = first;
      while (!ev.done) {
        const e = ev.value;
        if (e.type === 'chunk') onText(e.text);
        else done = e;
        ev = await it.next();
      }
    } catch (err) {
      if (!writer) throw err;
      meter.fail(err);
      writer.json({ error: describeError(err).message });
      writer.end();
      return;
    }
    if (think) {
      const rest = think.flush();
      full += rest.content;
      fullThinking += rest.thinking;
      if (writer && (rest.content || rest.thinking)) writer.json(piece(rest.content, rest.thinking));
    }
    let toolCalls = null;
    if (pending) {
      toolCalls = tools ? parseToolCalls(pending, tools) : null;
      if (!toolCalls) emit(pending);
    }
    if (!done) throw new CorralError('internal', 'generation ended without a result');
    const final = timings(done, start);
    const created_at = new Date().toISOString();
    const wireCalls = toolCalls ? toWireToolCalls(toolCalls) : undefined;
    let last: Record<string, unknown>;
    if (kind === 'generate') {
      last = {
        model: name,
        created_at,
        response: writer ? '' : full,
        ...(!writer && fullThinking ? { thinking: fullThinking } : {}),
        done: true,
        ...(done.context ? { context: done.context } : {}),
        ...final,
      };
    } else {
      const message: Record<string, unknown> = {
        role: 'assistant',
        content: writer || wireCalls ? '' : full,
      };
      if (!writer && fullThinking) message.thinking = fullThinking;
      if (wireCalls) message.tool_calls = wireCalls;
      last = { model: name, created_at, message, done: true, ...final };
    }
    meter.setOutput(
      kind === 'generate'
        ? { response: full, ...(fullThinking ? { thinking: fullThinking } : {}) }
        : {
            content: full,
            ...(fullThinking ? { thinking: fullThinking } : {}),
            ...(wireCalls ? { tool_calls: wireCalls } : {}),
          },
    );
    if (writer) {
      writer.json(last);
      writer.end();
    } else if (!reply.raw.destroyed) {
      await reply.header('content-type', 'application/json; charset=utf-8').send(last);
    }
  }
}
