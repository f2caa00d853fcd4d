/** Builds the scheduler's event sequence for a run, as the worker would report it (spec helper). */
import type { DoneResult, GenerationEvent } from '@corral/worker-protocol';

export function done(over: Partial<DoneResult> = {}): DoneResult {
  return {
    type: 'done',
    id: 'job-1',
    doneReason: 'stop',
    promptTokens: 12,
    completionTokens: 3,
    cachedTokens: 0,
    loadDurationNs: 0,
    promptEvalDurationNs: 1,
    evalDurationNs: 1,
    ...over,
  };
}

export async function* run(
  pieces: string[],
  end: DoneResult | Error = done(),
): AsyncGenerator<GenerationEvent> {
  for (const text of pieces) yield { type: 'chunk', text, tokens: 1 };
  if (end instanceof Error) throw end;
  yield end;
}

export async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
