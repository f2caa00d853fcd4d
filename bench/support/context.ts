/** What every scenario gets from the harness, and what it gives back. */
import type { LlamaCppBuild } from '../llama-cpp';
import type { CorralServer } from './corral';
import type { LlamaServer } from './llama-server';
import type { BenchModel } from './models';

export type Row = Record<string, string | number>;

export interface ScenarioResult {
  id: string;
  title: string;
  /** The bar from issue 7, and whether it held. */
  bar?: string;
  verdict?: 'holds' | 'missed' | 'n/a';
  notes: string[];
  rows: Row[];
}

export interface BenchContext {
  corral: CorralServer;
  /** llama-server with the worker's thread count, one per model, same parallel slots as Corral. */
  llamaServers: Map<string, LlamaServer>;
  /** Undefined when the baselines were skipped (CORRAL_BENCH_SKIP_LLAMA_CPP=1). */
  llamaCpp?: LlamaCppBuild;
  /** The overhead model first, then the real model when present. */
  models: BenchModel[];
  /** The generated compute-bound model (decode and concurrency only), unless CORRAL_BENCH_COMPUTE=0. */
  compute?: BenchModel;
  /** Threads the worker and the baselines use (CORRAL_THREADS). */
  threads: number;
  /** Parallel sequences per model (OLLAMA_NUM_PARALLEL) and llama-server slots. */
  parallel: number;
  /** Context per sequence / slot. */
  ctxPerSlot: number;
  /** Scales repetitions (CORRAL_BENCH_QUICK=1 → fewer). */
  reps: (n: number) => number;
  log: (line: string) => void;
}

/** Runs `fns` round-robin `reps` times, so drift on a shared machine hits every contender alike. */
export async function interleave<F extends Record<string, () => Promise<unknown>>>(
  reps: number,
  fns: F,
): Promise<{ [K in keyof F]: Awaited<ReturnType<F[K]>>[] }> {
  const keys = Object.keys(fns) as (keyof F & string)[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as unknown[]])) as Record<string, unknown[]>;
  for (let r = 0; r < reps; r++) {
    // Rotate the order each round so no contender always runs right after the same one.
    for (let i = 0; i < keys.length; i++) {
      const k = keys[(i + r) % keys.length] as keyof F & string;
      out[k]?.push(await fns[k]!());
    }
  }
  return out as { [K in keyof F]: Awaited<ReturnType<F[K]>>[] };
}
