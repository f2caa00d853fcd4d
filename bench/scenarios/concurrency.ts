/** Scenario 3: 1, 4 and 16 concurrent streams on one model. */
import { corralGenerate, llamaCompletion, type StreamTiming } from '../support/clients';
import { interleave, type BenchContext, type Row, type ScenarioResult } from '../support/context';
import { startLlamaServer } from '../support/llama-server';
import { fmt, quantile, ratio, summarize } from '../support/stats';

const TOKENS = 128;
/** Per stream on the compute-bound model (~20–30 tok/s for one stream here). */
const COMPUTE_TOKENS = 32;
export const LEVELS = [1, 4, 16];

export interface Burst {
  tokens: number;
  wallMs: number;
  gaps: number[];
}

/** Runs `n` streams at once; aggregate = all tokens over the wall time of the whole burst. */
export async function burst(n: number, one: (i: number) => Promise<StreamTiming>): Promise<Burst> {
  const start = performance.now();
  const runs = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  return {
    tokens: runs.reduce((a, r) => a + r.tokens, 0),
    wallMs: performance.now() - start,
    gaps: runs.flatMap((r) => r.gapsMs),
  };
}

export const prompt = (i: number): string => `Story ${i + 1}. Once upon a time`;

export async function concurrencyScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: Row[] = [];
  let verdict: ScenarioResult['verdict'] = 'n/a';
  let allHold = true;
  const notes: string[] = [];
  for (const model of [...ctx.models, ...(ctx.compute ? [ctx.compute] : [])]) {
    const ls = ctx.llamaServers.get(model.name);
    const heavy = model === ctx.compute;
    const tokens = heavy ? COMPUTE_TOKENS : TOKENS;
    const ratios: string[] = [];
    // Reference on the real model: llama-server with its batches (prompts and multi-stream decode
    // steps alike) on CORRAL_BATCH_THREADS, which Corral uses for prompt steps only (docs/performance.md).
    const server = ctx.llamaCpp?.server;
    const wide =
      model.real && server && ls && ctx.batchThreads !== ctx.threads
        ? await startLlamaServer(server, {
            model: model.path,
            threads: ctx.threads,
            threadsBatch: ctx.batchThreads,
            parallel: ctx.parallel,
            ctxPerSlot: ctx.ctxPerSlot,
          })
        : undefined;
    const wideKey = `llama-server -t ${ctx.threads} -tb ${ctx.batchThreads} -np ${ctx.parallel} (reference)`;
    try {
      // Warm-up: the model loaded in Corral and every contender's caches filled before timing.
      await corralGenerate(ctx.corral, model.name, { prompt: prompt(0), maxTokens: 4 });
      if (ls) await llamaCompletion(ls, { prompt: prompt(0), maxTokens: 4 });
      if (wide) await llamaCompletion(wide, { prompt: prompt(0), maxTokens: 4 });
      for (const level of LEVELS) {
        const o = (i: number) => ({ prompt: prompt(i), maxTokens: tokens });
        const llamaKey = `llama-server -t ${ctx.threads} -np ${ctx.parallel}`;
        const contenders: Record<string, () => Promise<Burst>> = {
          'Corral /api/generate': () => burst(level, (i) => corralGenerate(ctx.corral, model.name, o(i))),
        };
        if (ls) contenders[llamaKey] = () => burst(level, (i) => llamaCompletion(ls, o(i)));
        if (wide) contenders[wideKey] = () => burst(level, (i) => llamaCompletion(wide, o(i)));
        const res = await interleave(heavy ? 2 : ctx.reps(7), contenders);
        const agg = (b: Burst[]) => summarize(b.map((x) => x.tokens / (x.wallMs / 1000)));
        const base = agg(res[llamaKey] ?? []);
        for (const [contender, bursts] of Object.entries(res)) {
          const s = agg(bursts);
          rows.push({
            model: model.label,
            streams: level,
            contender,
            'aggregate tok/s median (min–max)': `${fmt(s.median, 0)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`,
            'p99 inter-token ms': fmt(
              quantile(
                bursts.flatMap((x) => x.gaps),
                0.99,
              ),
              2,
            ),
            'vs llama-server': ratio(s.median, base.median),
          });
        }
        if (model.real && ls) {
          if (agg(res['Corral /api/generate'] ?? []).median < base.median) allHold = false;
          verdict = allHold ? 'holds' : 'missed';
        }
        if (heavy && ls)
          ratios.push(`${level}: ${ratio(agg(res['Corral /api/generate'] ?? []).median, base.median)}`);
      }
    } finally {
      await wide?.stop();
    }
    if (heavy && ratios.length)
      notes.push(
        `compute-bound model (${tokens} tokens per stream): Corral's aggregate vs llama-server at ${ratios.join(', ')} streams.`,
      );
  }
  return {
    id: 'concurrency',
    title: '3. Concurrency: 1, 4, 16 streams on one model',
    bar: "Corral's aggregate ≥ llama-server's at every level",
    verdict,
    notes: [
      `${TOKENS} tokens per stream, greedy, distinct prompts; Corral OLLAMA_NUM_PARALLEL=${ctx.parallel}, ` +
        `llama-server -np ${ctx.parallel}; aggregate = all tokens / wall time of the burst; bursts interleaved.`,
      `Threads: both decode on ${ctx.threads}; a Corral step carrying ≥ 32 prompt tokens (16 arriving prompts) runs on ` +
        `CORRAL_BATCH_THREADS=${ctx.batchThreads}; llama-server's batches on its -t ${ctx.threads}. The reference row gives ` +
        `llama-server -tb ${ctx.batchThreads}, which widens its multi-stream decode batches too; Corral cannot (its JS must run ` +
        'between steps, and widened decode steps measured 2-8x slower: docs/performance.md).',
      ...notes,
    ],
    rows,
  };
}
