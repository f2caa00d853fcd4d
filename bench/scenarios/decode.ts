/** Scenario 1: decode speed of one greedy stream, 256 tokens. */
import {
  corralChat,
  corralGenerate,
  decodeRate,
  llamaCompletion,
  type StreamTiming,
} from '../support/clients';
import { interleave, type BenchContext, type Row, type ScenarioResult } from '../support/context';
import { startDirect } from '../support/direct';
import { startLlamaServer, type LlamaServer } from '../support/llama-server';
import { ratio, spread, summarize } from '../support/stats';

const PROMPT = 'Once upon a time';
const TOKENS = 256;
const COMPUTE_TOKENS = 64;

export async function decodeScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const notes = [
    `greedy (temperature 0, repeat_penalty 1 on every contender), prompt "${PROMPT}", up to ${TOKENS} tokens; ` +
      `tok/s = (tokens − 1) / (last token − first token) as the client saw them; ${ctx.threads} thread(s) everywhere unless the row says otherwise.`,
  ];
  let verdict: ScenarioResult['verdict'] = 'n/a';
  for (const model of [...ctx.models, ...(ctx.compute ? [ctx.compute] : [])]) {
    // The compute-bound model runs ~30 tok/s: fewer tokens and rounds keep the run short.
    const heavy = model === ctx.compute;
    const tokens = heavy ? COMPUTE_TOKENS : TOKENS;
    const ls = ctx.llamaServers.get(model.name);
    // llama-server with its own thread default, for reference.
    let lsDefault: LlamaServer | undefined;
    if (ls && ctx.llamaCpp?.server && !heavy) {
      lsDefault = await startLlamaServer(ctx.llamaCpp.server, {
        model: model.path,
        parallel: ctx.parallel,
        ctxPerSlot: ctx.ctxPerSlot,
      });
    }
    const direct = await startDirect(model.path, {
      threads: ctx.threads,
      contextSize: ctx.ctxPerSlot,
      sequences: ctx.parallel,
    });
    try {
      const o = { prompt: PROMPT, maxTokens: tokens };
      const directRun = async (): Promise<StreamTiming> => {
        const r = await direct.generate(PROMPT, tokens);
        return {
          tokens: r.tokens,
          ttftMs: r.ttftMs,
          decodeMs: r.decodeMs,
          gapsMs: [],
          totalMs: r.ttftMs + r.decodeMs,
        };
      };
      const contenders: Record<string, () => Promise<StreamTiming>> = {
        'Corral /api/generate (NDJSON)': () => corralGenerate(ctx.corral, model.name, o),
        'Corral /v1/chat/completions (SSE)': () => corralChat(ctx.corral, model.name, o),
        'node-llama-cpp direct, in-process': directRun,
      };
      if (!heavy)
        contenders['Corral /api/generate, repeat_penalty 1.1 (Ollama default)'] = () =>
          corralGenerate(ctx.corral, model.name, { ...o, options: { repeat_penalty: 1.1 } });
      const llamaKey = `llama-server /completion -t ${ctx.threads}`;
      if (ls) contenders[llamaKey] = () => llamaCompletion(ls, o);
      if (lsDefault) {
        const server = lsDefault;
        contenders['llama-server /completion, default threads'] = () => llamaCompletion(server, o);
      }
      // Warm-up: load the model in Corral and fill caches everywhere.
      for (const run of Object.values(contenders)) await run();
      const res = await interleave(heavy ? ctx.reps(3) : ctx.reps(11), contenders);
      const median = (k: string) => summarize((res[k] ?? []).map(decodeRate)).median;
      const base = median(llamaKey);
      const directBase = median('node-llama-cpp direct, in-process');
      for (const [contender, runs] of Object.entries(res)) {
        const s = summarize(runs.map(decodeRate));
        rows.push({
          model: model.label,
          contender,
          tokens: runs[0]?.tokens ?? 0,
          'tok/s median (p10–p90)': spread(s, 0),
          'vs llama-server -t 1': ratio(s.median, base),
          'vs node-llama-cpp direct': ratio(s.median, directBase),
        });
      }
      if (model.real && ls) {
        const ok =
          median('Corral /api/generate (NDJSON)') >= 0.95 * base &&
          median('Corral /v1/chat/completions (SSE)') >= 0.95 * base;
        verdict = ok ? 'holds' : 'missed';
      }
      if (heavy && ls)
        notes.push(
          `compute-bound model (${tokens} tokens): Corral /api/generate at ${ratio(median('Corral /api/generate (NDJSON)'), base)} ` +
            `and /v1/chat/completions at ${ratio(median('Corral /v1/chat/completions (SSE)'), base)} of llama-server -t ${ctx.threads}: ` +
            'the per-token cost of the gateway–worker pipeline is fixed, so it weighs less as the forward pass grows.',
        );
    } finally {
      await direct.dispose();
      await lsDefault?.stop();
    }
  }
  return {
    id: 'decode',
    title: '1. Decode speed, one stream, greedy, 256 tokens',
    bar: "Corral ≥ 95% of llama-server's tokens/s on the real model",
    verdict,
    notes,
    rows,
  };
}
