/** Scenario 2: time to first token for a short prompt, Corral minus llama-server. */
import { corralChat, corralGenerate, llamaCompletion } from '../support/clients';
import { interleave, type BenchContext, type Row, type ScenarioResult } from '../support/context';
import { fmt, summarize } from '../support/stats';

const PROMPT = 'Once upon a time';

export async function ttftScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: Row[] = [];
  let verdict: ScenarioResult['verdict'] = 'n/a';
  const reps = ctx.reps(60);
  for (const model of ctx.models) {
    const ls = ctx.llamaServers.get(model.name);
    const o = { prompt: PROMPT, maxTokens: 2 };
    const contenders: Record<string, () => Promise<number>> = {
      'Corral /api/generate': async () => (await corralGenerate(ctx.corral, model.name, o)).ttftMs,
      'Corral /v1/chat/completions': async () => (await corralChat(ctx.corral, model.name, o)).ttftMs,
    };
    const llamaKey = `llama-server /completion -t ${ctx.threads}`;
    if (ls) contenders[llamaKey] = async () => (await llamaCompletion(ls, o)).ttftMs;
    for (const run of Object.values(contenders)) await run();
    const res = await interleave(reps, contenders);
    const base = summarize(res[llamaKey] ?? []);
    for (const [contender, samples] of Object.entries(res)) {
      const s = summarize(samples);
      rows.push({
        model: model.label,
        contender,
        n: s.n,
        'p50 ms': fmt(s.median, 2),
        'p99 ms': fmt(s.p99, 2),
        'added p50 ms': fmt(s.median - base.median, 2),
        'added p99 ms': fmt(s.p99 - base.p99, 2),
      });
    }
    if (model.real && ls) {
      // Both dialects: a user of either endpoint should get the bar.
      const added = (k: string) => summarize(res[k] ?? []).median - base.median;
      verdict =
        added('Corral /api/generate') <= 5 && added('Corral /v1/chat/completions') <= 5 ? 'holds' : 'missed';
    }
  }
  return {
    id: 'ttft',
    title: '2. Time to first token, short prompt',
    bar: '≤ 5 ms added at p50 (embedded mode)',
    verdict,
    notes: [
      `prompt "${PROMPT}" repeated (both sides reuse the cached prefix), ${reps} requests per contender, interleaved; ` +
        'TTFT = request sent → first token received by the client.',
    ],
    rows,
  };
}
