/** Scenario 7: cold start, request for an unloaded model to first token vs llama-server start to ready. */
import { corralGenerate, llamaCompletion } from '../support/clients';
import { interleave, type BenchContext, type Row, type ScenarioResult } from '../support/context';
import { startLlamaServer } from '../support/llama-server';
import { fmt, summarize } from '../support/stats';
import { unloadModel } from './memory';

const PROMPT = 'Once upon a time';

export async function coldStartScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const serverBin = ctx.llamaCpp?.server;
  for (const model of ctx.models) {
    type Sample = { ready: number; firstToken: number };
    const contenders: Record<string, () => Promise<Sample>> = {
      corral: async () => {
        await unloadModel(ctx.corral, model.name);
        const t = await corralGenerate(ctx.corral, model.name, { prompt: PROMPT, maxTokens: 2 });
        return { ready: Number.NaN, firstToken: t.ttftMs };
      },
    };
    if (serverBin) {
      contenders.llama = async () => {
        const start = performance.now();
        const ls = await startLlamaServer(serverBin, {
          model: model.path,
          threads: ctx.threads,
          parallel: ctx.parallel,
          ctxPerSlot: ctx.ctxPerSlot,
        });
        try {
          const t = await llamaCompletion(ls, { prompt: PROMPT, maxTokens: 2 });
          return { ready: ls.readyMs, firstToken: performance.now() - start - t.totalMs + t.ttftMs };
        } finally {
          await ls.stop();
        }
      };
    }
    const res = await interleave(ctx.reps(4), contenders);
    const row = (contender: string, samples: number[]): Row => {
      const s = summarize(samples);
      return {
        model: model.label,
        contender,
        n: s.n,
        'median ms': fmt(s.median, 0),
        'min–max ms': `${fmt(s.min, 0)}–${fmt(s.max, 0)}`,
      };
    };
    rows.push(
      row(
        'Corral: request for an unloaded model → first token (worker already running)',
        (res.corral ?? []).map((r) => r.firstToken),
      ),
    );
    if (res.llama) {
      rows.push(
        row(
          'llama-server: process start → /health ready',
          res.llama.map((r) => r.ready),
        ),
        row(
          'llama-server: process start → first token',
          res.llama.map((r) => r.firstToken),
        ),
      );
    }
  }
  return {
    id: 'cold-start',
    title: '7. Cold start',
    verdict: 'n/a',
    notes: [
      `Corral unloads the model with keep_alive 0 before each request; llama-server is spawned fresh with -t ${ctx.threads} -np ${ctx.parallel}.`,
    ],
    rows,
  };
}
