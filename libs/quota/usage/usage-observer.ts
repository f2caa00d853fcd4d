/**
 * Usage accounting is an observer of the inference request path: every request the Ollama and
 * OpenAI handlers report (RunObservers) becomes one usage record, handed to the durable sink.
 */
import type { EndedRun, RunObserver } from '@corral/core';
import type { UsageRecord, UsageSink } from './usage.types';

export function usageRecordOf(run: EndedRun): UsageRecord {
  return {
    ts: run.startedAt,
    requestId: run.requestId,
    ...(run.teamId ? { teamId: run.teamId } : {}),
    ...(run.keyId ? { keyId: run.keyId } : {}),
    ...(run.userId ? { userId: run.userId } : {}),
    model: run.model,
    promptTokens: run.promptTokens,
    completionTokens: run.completionTokens,
    ...(run.ttftMs !== undefined ? { ttftMs: run.ttftMs } : {}),
    durationMs: run.durationMs,
    status: run.outcome ?? (run.errorCode || run.status >= 400 ? 'error' : 'ok'),
  };
}

export class UsageObserver implements RunObserver {
  constructor(private readonly sink: UsageSink) {}

  runEnded(run: EndedRun): void {
    this.sink.record(usageRecordOf(run));
  }
}
