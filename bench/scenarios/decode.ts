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

export async function decodeScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const notes = [
    `greedy (temperature 0, repeat_penalty 1 on every contender), prompt "${PROMPT}", up to ${TOKENS} tokens; ` +
      `tok/s = (tokens − 1) / (last token − first token) as the client saw them; ${ctx.threads} thread(s) everywhere unless the row says otherwise.`,
  ];
  let verdict: ScenarioResult['verdict'] = 'n/a';
  for (const model of ctx.models) {
    const ls = ctx.llamaServers.get(model.name);
    // llama-server with its own thread default, for reference.
    let lsDefault: LlamaServer | undefined;
    if (ls && ctx.llamaCpp?.server) {
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
      const o = { prompt: PROMPT, maxTokens: TOKENS };
      const directRun = async (): Promise<StreamTiming> => {
        const r = await direct.generate(PROMPT, TOKENS);
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
        'Corral /api/generate, repeat_penalty 1.1 (Ollama default)': () =>
          corralGenerate(ctx.corral, model.name, { ...o, options: { repeat_penalty: 1.1 } }),
      };
      const llamaKey = `llama-server /completion -t ${ctx.threads}`;
      if (ls) contenders[llamaKey] = () => llamaCompletion(ls, o);
      if (lsDefault) {
        const server = lsDefault;
        contenders['llama-server /completion, default threads'] = () => llamaCompletion(server, o);
      }
      // Warm-up: load the model in Corral and fill caches everywhere.
      for (const run of Object.values(contenders)) await run();
      const res = await interleave(ctx.reps(7), contenders);
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
