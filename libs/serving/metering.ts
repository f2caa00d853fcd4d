/**
 * Metering: what every inference request goes through, whichever dialect it came in (Ollama or
 * OpenAI). It counts the prompt with the model's own tokenizer, asks the quota feature to admit the
 * request (which reserves its estimated cost, or refuses with 400/403/429), puts the rate-limit
 * headers on the reply, caps the completion budget and gives the scheduler the caller's fair share;
 * when the request ends (done, failed, refused or the client went away) it settles the actual
 * tokens and tells the RunObservers once (usage accounting and audit are observers).
 *
 * Quotas are a separate feature (libs/quota): it implements serving's QuotaGate port
 * (quota-gate.ts). Without it (a gateway built without the quota module, some benchmarks) requests
 * are only observed, never refused.
 */
import { Inject, Injectable, Optional } from '@nestjs/common';
import { describeError } from '@corral/common';
import type { GenerationEvent, Prompt, SamplingInput } from '@corral/worker-protocol';
import type { RunTarget, Scheduler } from '@corral/dispatch';
import { RunObservers, SCHEDULER, type EndedRun } from '@corral/core';
import { QUOTA_GATE, refusedLimit, type Admission, type QuotaGate } from './quota-gate';
import type { PreparedRun } from './run.service';

/** Who is asking: from the authenticated principal (`principalOf(request)` of @corral/auth). */
export interface Caller {
  teamId: string | null;
  keyId?: string | null;
  userId: string | null;
}

/** The fields of @corral/auth's Principal that metering reads. */
export interface PrincipalLike {
  kind: string;
  userId: string | null;
  keyId?: string;
  teamId: string | null;
  teamRoles: Readonly<Record<string, unknown>>;
}

/**
 * The team a request counts against: a key's team; for a web-console session, the user's team when
 * they belong to exactly one (a member of several teams is metered as a user only).
 */
export function callerOf(p: PrincipalLike | undefined): Caller {
  if (!p) return { teamId: null, keyId: null, userId: null };
  let teamId = p.teamId;
  if (!teamId && p.kind === 'session') {
    const teams = Object.keys(p.teamRoles);
    if (teams.length === 1) teamId = teams[0] ?? null;
  }
  return { teamId, keyId: p.keyId ?? null, userId: p.userId };
}

/**
 * The text the tokenizer sees, and what the worker adds around it: a rendered prompt gets a BOS; a
 * chat the worker renders with the model's Jinja template gets the template's markup, estimated per
 * message (settling corrects the estimate with the worker's exact count).
 */
export function promptText(p: Prompt): { text: string; extra: number } {
  if (p.kind === 'text') return { text: p.text, extra: p.addBos ? 1 : 0 };
  const parts = p.messages.map((m) => m.content);
  if (p.tools?.length) parts.push(JSON.stringify(p.tools));
  return { text: parts.join('\n'), extra: 8 * p.messages.length + 8 };
}

/**
 * What metering needs of the HTTP exchange, without the reply itself (`exchangeOf(reply)` in
 * ./pipeline builds it from Fastify's).
 */
export interface Exchange {
  requestId: string;
  /** The path without its query string, for observers. */
  route: string;
  /** Aborts when the client goes away before the reply is complete; it also cancels the run. */
  signal: AbortSignal;
  /** True once the status line went out: an error after that travels in-band, the client saw 200. */
  statusSent(): boolean;
  /** Puts admission's x-ratelimit-* headers on the reply. */
  setHeaders(headers: Record<string, string>): void;
}

export interface MeterStart {
  kind: EndedRun['kind'];
  exchange: Exchange;
  caller: Caller;
  /** The model as requested (replaced by the resolved name once `admit` ran). */
  model: unknown;
  /** What the caller sent, for observers (audit content capture). */
  input: unknown;
}

/** What the request dispatches once admitted. */
export interface Admitted {
  /** The run target with the caller's fair share. */
  target: RunTarget;
  /** Sampling with the completion budget capped at what the quota allows. */
  sampling: SamplingInput;
  /** x-ratelimit-* headers (already set on the reply; pass them to a hijacked stream too). */
  headers: Record<string, string>;
}

@Injectable()
export class MeteringService {
  constructor(
    @Inject(SCHEDULER) private readonly scheduler: Scheduler,
    @Optional() @Inject(QUOTA_GATE) private readonly quota?: QuotaGate,
    @Optional() private readonly observers?: RunObservers,
  ) {}

  /** Starts metering one inference request. Call `end()` exactly once, in a finally. */
  begin(start: MeterStart): Meter {
    return new Meter(this, start);
  }

  /** Runs a handler metered: admission, settlement and one report to the observers, whatever happens. */
  async run<T>(start: MeterStart, fn: (meter: Meter) => Promise<T>): Promise<T> {
    const meter = this.begin(start);
    try {
      return await fn(meter);
    } catch (e) {
      meter.fail(e);
      throw e;
    } finally {
      meter.end();
    }
  }

  /** @internal */
  get gate(): QuotaGate | undefined {
    return this.quota;
  }

  /** @internal */
  notify(run: EndedRun): void {
    this.observers?.notify(run);
  }

  /**
   * Prompt tokens with the model's own tokenizer. The scheduler's tokenize holds no sequence, so
   * counting never waits for a busy model.
   * @internal
   */
  async countTokens(target: RunTarget, text: string): Promise<number> {
    return (await this.scheduler.tokenize(target, text)).length;
  }
}

type Outcome = 'ok' | 'error' | 'cancelled' | 'refused';

export class Meter {
  private readonly startedAt = new Date();
  private readonly t0 = performance.now();
  private model: string;
  private admission?: Admission;
  private promptEstimate = 0;
  private promptTokens?: number;
  private completionTokens = 0;
  private started = false;
  private ttftMs?: number;
  private error?: unknown;
  private refused = false;
  private settled?: Promise<unknown>;
  private ended = false;
  private output?: unknown;
  /** Generated text as it streamed, the output reported when the handler set none. */
  private text = '';

  constructor(
    private readonly svc: MeteringService,
    private readonly s: MeterStart,
  ) {
    this.model = typeof s.model === 'string' ? s.model : '';
  }

  /**
   * Counts the prompt (generation) or the inputs (embeddings), admits the request and returns what
   * to dispatch. Throws the refusal (rendered by the exception filter in the caller's dialect).
   */
  async admit(run: PreparedRun, what: { prompt: Prompt } | { inputs: string[] }): Promise<Admitted> {
    this.model = run.model.name;
    const c = this.s.caller;
    const gate = this.svc.gate;
    const caller = run.sampling.numPredict;
    const callerMax = typeof caller === 'number' && caller >= 0 ? caller : undefined;
    const embedding = 'inputs' in what;
    const { text, extra } = embedding
      ? { text: what.inputs.join('\n'), extra: what.inputs.length }
      : promptText(what.prompt);
    const teamId = c.teamId;
    if (!gate || !teamId) {
      // Unmetered caller (no team, or no quota feature): only counted when it ends.
      return { target: { ...run.target, fair: { team: teamId ?? '' } }, sampling: run.sampling, headers: {} };
    }
    const keyId = c.keyId ?? undefined;
    const policy = await gate.policyFor(teamId, keyId);
    const share = { team: teamId, weight: policy.weight, priority: policy.priority };
    const limited =
      Object.keys(policy.combined).length > 0 || !!policy.team.allowedModels || !!policy.key?.allowedModels;
    // No limit applies: nothing to count or reserve; the team still gets its fair share.
    if (!limited) return { target: { ...run.target, fair: share }, sampling: run.sampling, headers: {} };
    const probe = { ...run.target, fair: share };
    this.promptEstimate = (await this.svc.countTokens(probe, text)) + extra;
    const numCtx = run.target.spec.numCtx;
    try {
      this.admission = await gate.admit({
        teamId,
        keyId,
        model: run.model.name,
        promptTokens: this.promptEstimate,
        maxTokens: embedding ? 0 : callerMax,
        defaultMaxTokens: typeof numCtx === 'number' ? Math.max(0, numCtx - this.promptEstimate) : undefined,
      });
    } catch (e) {
      this.refused = true;
      throw e;
    }
    const a = this.admission;
    const headers = a.headers;
    this.s.exchange.setHeaders(headers);
    const capped = a.reservationId !== null || a.policy.combined.maxTokensPerRequest != null;
    const sampling =
      !embedding && capped && (callerMax === undefined || callerMax > a.maxTokens)
        ? { ...run.sampling, numPredict: a.maxTokens }
        : run.sampling;
    return { target: { ...run.target, fair: a.share }, sampling, headers };
  }

  /**
   * Passes generation events through, counting completion tokens and the time to the first, and
   * settles as soon as the final event arrives (before the caller writes its last bytes, so the
   * client's next request already sees the refund).
   */
  async *tap(events: AsyncIterable<GenerationEvent>): AsyncGenerator<GenerationEvent> {
    for await (const ev of events) {
      this.started = true;
      if (ev.type === 'chunk') {
        this.ttftMs ??= performance.now() - this.t0;
        this.completionTokens += ev.tokens;
        this.text += ev.text;
      } else {
        this.promptTokens = ev.promptTokens;
        this.completionTokens = ev.completionTokens;
        await this.settle();
      }
      yield ev;
    }
  }

  /** An embedding finished: its exact token count. */
  async embedded(promptTokens: number): Promise<void> {
    this.started = true;
    this.promptTokens = promptTokens;
    await this.settle();
  }

  /** Fires when the client went away: pass it to the run so the worker stops too. */
  get signal(): AbortSignal {
    return this.s.exchange.signal;
  }

  /** The generated output, for observers. */
  setOutput(output: unknown): void {
    this.output = output;
  }

  /** The request failed (before or after streaming began). */
  fail(e: unknown): void {
    this.error ??= e;
  }

  /**
   * Settles what the request used: the worker's exact prompt count when it reported one, else the
   * estimate if the run started (its prompt was evaluated), else nothing; plus completion tokens
   * produced. Idempotent.
   */
  private settle(): Promise<unknown> {
    this.settled ??= this.admission
      ? this.admission.settle(this.usedPrompt() + this.completionTokens)
      : Promise.resolve();
    return this.settled;
  }

  private usedPrompt(): number {
    return this.promptTokens ?? (this.started ? this.promptEstimate : 0);
  }

  /** Settles (if not done yet) and reports the request once to the observers. Never throws. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    void this.settle();
    const x = this.s.exchange;
    const gone = x.signal.aborted;
    const d = this.error === undefined ? undefined : describeError(this.error);
    let outcome: Outcome = 'ok';
    let status = 200;
    if (this.refused && d) {
      outcome = 'refused';
      status = d.status;
    } else if (gone) {
      outcome = 'cancelled';
      status = 499;
    } else if (d) {
      outcome = 'error';
      // After the status line went out, an error travels in-band: the client saw 200.
      status = x.statusSent() ? 200 : d.status;
    }
    const limit = refusedLimit(this.error);
    const c = this.s.caller;
    this.svc.notify({
      requestId: x.requestId,
      route: x.route,
      kind: this.s.kind,
      teamId: c.teamId,
      keyId: c.keyId ?? null,
      userId: c.userId,
      model: this.model,
      startedAt: this.startedAt,
      status,
      outcome,
      ...(d?.code ? { errorCode: d.code } : {}),
      ...(limit !== undefined ? { limit } : {}),
      promptTokens: this.usedPrompt(),
      completionTokens: this.completionTokens,
      ...(this.ttftMs !== undefined ? { ttftMs: Math.round(this.ttftMs) } : {}),
      durationMs: Math.round(performance.now() - this.t0),
      input: this.s.input,
      ...(this.output !== undefined
        ? { output: this.output }
        : this.started && this.s.kind !== 'embedding'
          ? { output: { text: this.text } }
          : {}),
    });
  }
}
