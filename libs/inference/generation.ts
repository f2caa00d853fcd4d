import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import { MAX_STOP_LENGTH, MAX_STOP_STRINGS } from '@corral/worker-protocol';
import { fitPromptToContext } from './context-fit';
import { WorkerJobError } from './errors';
import type { GrammarCache } from './grammar';
import type { ModelInstance } from './model-instance';
import { type JobProgress, UNWATCHED } from './progress-watch';
import { renderPrompt } from './prompt';
import type { DoneResult, FromWorker, GenerateJob } from '@corral/worker-protocol';
import { maxNewTokens, penaltyWindowIsFiltered, toEvaluateOptions } from './sampling';
import { StopStringFilter } from './stop-strings';
import { TokenTextDecoder } from './text-decoder';

export interface GenerationRun {
  job: GenerateJob;
  instance: ModelInstance;
  grammars: GrammarCache;
  /** Aborted on `cancel`, on unload and on shutdown. */
  signal: AbortSignal;
  emit: (msg: FromWorker) => void;
  /** Time spent loading the model for this job (0 when it was already loaded). */
  loadDurationNs: number;
  /** The job's progress watchdog (progress-watch.ts): armed while the job computes. Defaults to none. */
  progress?: JobProgress;
}

type DoneReason = DoneResult['doneReason'];

/**
 * Runs one generate job to its `done` message. Throws (WorkerJobError or anything else) only before the
 * first chunk or on an engine failure; the caller turns that into the job's `error` message.
 */
export async function runGeneration(run: GenerationRun): Promise<void> {
  const { job, instance, signal } = run;
  const progress = run.progress ?? UNWATCHED;
  const { model } = instance;
  const limit = Math.min(instance.spec.numCtx, instance.context.contextSize);
  const budget = maxNewTokens(job.sampling);

  const rendered = renderPrompt(
    job.prompt,
    model,
    instance.chatWrapperFor(job.prompt.kind === 'chat' ? job.prompt.think : undefined),
  );
  const bosKept = rendered.tokens[0] === model.tokens.bos ? 1 : 0;
  const prompt = fitPromptToContext(rendered.tokens, limit, job.sampling.numKeep ?? bosKept, budget).tokens;
  if (prompt.length === 0)
    throw new WorkerJobError('bad_request', 'the prompt is empty (no tokens to evaluate)');
  const grammarEvaluationState = await run.grammars.evaluationState(job.constraint, model);

  const base = { type: 'done' as const, id: job.id, loadDurationNs: run.loadDurationNs };
  let seq: LlamaContextSequence;
  try {
    seq = await instance.pool.acquire(prompt, signal);
  } catch (e) {
    if (!signal.aborted) throw e;
    run.emit({
      ...base,
      doneReason: 'cancelled',
      promptTokens: prompt.length,
      completionTokens: 0,
      cachedTokens: 0,
      promptEvalDurationNs: 0,
      evalDurationNs: 0,
    });
    return;
  }

  let healthy = false;
  // Watched from here: waiting for a sequence is not native compute, everything after it is.
  progress.arm();
  try {
    const started = process.hrtime.bigint();
    // Erasing takes the context lock: a native run of another sequence hands it over after its token.
    instance.decodeLoop?.yieldContext();
    const cachedTokens = await reusePrefix(seq, prompt);
    const history: Token[] = [...prompt];
    const generated: Token[] = [];
    let reason: DoneReason = 'length';
    let firstTokenAt: bigint | undefined;

    // The decode loop evaluates the prompt itself, in the same batches as the other sequences' next
    // tokens. Otherwise all prompt tokens but the last are evaluated in batch-sized steps (so a cancel
    // during a long prompt takes effect between steps) and the last one is fed to evaluate().
    const loop = budget > 0 && instance.decodeLoop?.supports(seq) ? instance.decodeLoop : null;
    const step = Math.max(1, instance.context.batchSize);
    for (let i = cachedTokens; !loop && i < prompt.length - 1 && !signal.aborted; i += step) {
      await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(i, Math.min(i + step, prompt.length - 1)));
      progress.tick();
    }

    const decoder = new TokenTextDecoder(model, prompt);
    // The gateway bounds stop strings; a job from elsewhere is cut to the same bounds here.
    const requested = job.sampling.stop.slice(0, MAX_STOP_STRINGS).map((s) => s.slice(0, MAX_STOP_LENGTH));
    const stops = new StopStringFilter([...requested, ...rendered.stopStrings]);
    let unsentTokens = 0;
    let stoppedByString = false;
    const send = (text: string): void => {
      if (text.length === 0) return;
      run.emit({ type: 'chunk', id: job.id, text, tokens: unsentTokens });
      unsentTokens = 0;
    };

    if (signal.aborted) reason = 'cancelled';
    else if (budget === 0) {
      const last = prompt[prompt.length - 1];
      if (last !== undefined && seq.nextTokenIndex < prompt.length)
        await seq.evaluateWithoutGeneratingNewTokens([last]);
    } else {
      const last = prompt.slice(-1);
      const options = {
        ...toEvaluateOptions(job.sampling, {
          history: () => history,
          contextSize: limit,
          newlineToken: model.tokens.nl,
        }),
        grammarEvaluationState,
        yieldEogToken: true,
      };
      const isFinal = (t: Token): boolean => model.isEogToken(t) || rendered.stopTokens.has(t);
      const tokens = loop
        ? loop.generate(seq, prompt.slice(cachedTokens), {
            sampling: options,
            maxTokens: budget,
            contextLimit: limit,
            isFinal,
            stopTokens: rendered.stopTokens,
            refreshSampler: penaltyWindowIsFiltered(job.sampling, model.tokens.nl),
            signal,
            onProgress: progress.tick,
          })
        : seq.evaluate(last, options);
      for await (const token of tokens) {
        progress.tick();
        firstTokenAt ??= process.hrtime.bigint();
        if (isFinal(token)) {
          reason = 'stop';
          break;
        }
        generated.push(token);
        history.push(token);
        unsentTokens++;
        const out = stops.push(decoder.push(token));
        send(out.text);
        if (out.stopped) {
          reason = 'stop';
          stoppedByString = true;
          break;
        }
        if (signal.aborted) {
          reason = 'cancelled';
          break;
        }
        // The decode loop ends the stream at the context limit itself (its native run may have decoded
        // tokens this loop has not taken yet, so the sequence's length says nothing here).
        if (generated.length >= budget || (!loop && seq.nextTokenIndex + 1 > limit)) {
          reason = 'length';
          break;
        }
      }
      // The decode loop ends a stream without a token when the job is cancelled during its prompt.
      if (reason === 'length' && signal.aborted && generated.length < budget) reason = 'cancelled';
    }

    if (reason !== 'cancelled' && !stoppedByString) {
      const tail = stops.push(decoder.flush());
      send(tail.text + (tail.stopped ? '' : stops.flush()));
    }
    const finished = process.hrtime.bigint();
    const promptEnd = firstTokenAt ?? finished;
    healthy = true;
    run.emit({
      ...base,
      doneReason: reason,
      promptTokens: prompt.length,
      completionTokens: generated.length,
      cachedTokens,
      promptEvalDurationNs: Number(promptEnd - started),
      evalDurationNs: Number(finished - promptEnd),
      context: job.returnContext ? [...prompt, ...generated] : undefined,
    });
  } finally {
    progress.disarm();
    // After an engine failure the KV cache no longer matches the sequence's token list; start clean
    // rather than let the next job reuse a corrupt prefix.
    if (!healthy) await seq.clearHistory().catch(() => undefined);
    instance.pool.release(seq);
  }
}

/**
 * Keeps the KV cache of the common prefix between the sequence's previous tokens and this prompt and
 * erases the rest. At least the last prompt token is always re-evaluated: its logits are what the
 * first generated token is sampled from.
 */
async function reusePrefix(seq: LlamaContextSequence, prompt: Token[]): Promise<number> {
  if (seq.nextTokenIndex === 0) return 0;
  const common = seq.compareContextTokens(prompt).firstDifferentIndex;
  const keep = Math.max(0, Math.min(common, prompt.length - 1));
  if (keep === 0) {
    await seq.clearHistory();
    return 0;
  }
  if (keep < seq.nextTokenIndex) {
    try {
      await seq.eraseContextTokenRanges([{ start: keep, end: seq.nextTokenIndex }]);
    } catch {
      // Some architectures (recurrent state) cannot erase a range; fall back to a full evaluation.
      await seq.clearHistory();
      return 0;
    }
  }
  return keep;
}
