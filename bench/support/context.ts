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
  /** Threads of the worker's prompt steps (CORRAL_BATCH_THREADS), and llama-bench's for the prompt bar. */
  batchThreads: number;
  /** Parallel sequences per model (OLLAMA_NUM_PARALLEL) and llama-server slots. */
  parallel: number;
  /** Context per sequence / slot. */
  ctxPerSlot: number;
  /** Scales repetitions (CORRAL_BENCH_QUICK=1 → fewer). */
  reps: (n: number) => number;
  log: (line: string) => void;
}

/**
 * Runs every contender of `fns` once per round, `reps` rounds, so drift on a shared machine hits every
 * contender alike. Each round uses another order (a seeded shuffle: the same on every run), so no
 * contender always runs right after the same one: a plain rotation keeps the cyclic order, and the
 * contender after llama-server with its default threads was measured ~20% slow in every run, because
 * llama.cpp's worker threads keep polling for work for a while after a request. A short pause between
 * runs lets that settle too.
 */
export async function interleave<F extends Record<string, () => Promise<unknown>>>(
  reps: number,
  fns: F,
): Promise<{ [K in keyof F]: Awaited<ReturnType<F[K]>>[] }> {
  const keys = Object.keys(fns) as (keyof F & string)[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as unknown[]])) as Record<string, unknown[]>;
  const random = seeded(keys.length * 7919 + reps);
  for (let r = 0; r < reps; r++) {
    const order = [...keys];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as keyof F & string, order[i] as keyof F & string];
    }
    for (const k of order) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      out[k]?.push(await fns[k]!());
    }
  }
  return out as { [K in keyof F]: Awaited<ReturnType<F[K]>>[] };
}

/** Idle time before each run (see interleave). */
const SETTLE_MS = 25;

/** mulberry32: a small seeded generator, so a run's orders are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
