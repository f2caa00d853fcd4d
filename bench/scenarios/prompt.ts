/** Scenario 4: prompt processing speed for a 1,000-token prompt, Corral vs llama-bench. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { corralGenerate } from '../support/clients';
import { interleave, type BenchContext, type Row, type ScenarioResult } from '../support/context';
import { startDirect, type Tokenizer } from '../support/direct';
import { fmt, ratio, summarize } from '../support/stats';

const PROMPT_TOKENS = 1000;
const SEED_TEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play with her toys and her friends. ' +
  'One day, she went to the park with her mom and saw a big red ball under a tree. ';

const run = promisify(execFile);

/** Text of about `n` tokens for this model, cut with the model's own tokenizer. */
function promptOf(tokenizer: Tokenizer, n: number): string {
  const text = SEED_TEXT.repeat(Math.ceil((n * 4) / SEED_TEXT.length) + 4);
  return tokenizer.detokenize(tokenizer.tokenize(text).slice(0, n - 8));
}

async function llamaBench(bin: string, model: string, tokens: number, threads?: number): Promise<number> {
  const args = ['-m', model, '-p', String(tokens), '-n', '0', '-r', '1', '-o', 'json'];
  if (threads) args.push('-t', String(threads));
  const { stdout } = await run(bin, args, { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
  const results = JSON.parse(stdout) as { avg_ts: number }[];
  const ts = results[0]?.avg_ts;
  if (ts === undefined) throw new Error(`llama-bench printed no result: ${stdout.slice(0, 500)}`);
  return ts;
}

export async function promptScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const rows: Row[] = [];
  let verdict: ScenarioResult['verdict'] = 'n/a';
  let counted = 0;
  for (const model of ctx.models) {
    const benchBin = ctx.llamaCpp?.bench;
    const tokenizer = await startDirect(model.path, { threads: ctx.threads, contextSize: 64, sequences: 1 });
    const body = promptOf(tokenizer, PROMPT_TOKENS);
    await tokenizer.dispose();
    let k = 0;
    const corral = async () => {
      // A new first word each time: nothing can come from the prefix cache.
      const t = await corralGenerate(ctx.corral, model.name, { prompt: `Run ${++k}. ${body}`, maxTokens: 1 });
      counted = t.promptTokens ?? 0;
      const server = (t.promptTokens ?? 0) / ((t.promptMs ?? Number.NaN) / 1000);
      return { server, client: (t.promptTokens ?? 0) / (t.ttftMs / 1000) };
    };
    await corral();
    type Sample = { server: number; client: number };
    // The baseline runs with the threads Corral's prompt steps use (CORRAL_BATCH_THREADS); llama-bench
    // with the decode thread count is shown for reference when that differs.
    const benchKey = `llama-bench -p ${PROMPT_TOKENS} -t ${ctx.batchThreads}`;
    const contenders: Record<string, () => Promise<Sample>> = { corral };
    if (benchBin) {
      const asSample = (ts: number): Sample => ({ server: ts, client: ts });
      contenders[benchKey] = async () =>
        asSample(await llamaBench(benchBin, model.path, PROMPT_TOKENS, ctx.batchThreads));
      if (ctx.threads !== ctx.batchThreads)
        contenders[`llama-bench -p ${PROMPT_TOKENS} -t ${ctx.threads}`] = async () =>
          asSample(await llamaBench(benchBin, model.path, PROMPT_TOKENS, ctx.threads));
    }
    // 5 rounds: with 3, single llama-bench runs on this shared box moved the median by ±10%.
    const res = await interleave(ctx.reps(5), contenders);
    const base = summarize((res[benchKey] ?? []).map((r) => r.server));
    const row = (contender: string, samples: number[]): Row => {
      const s = summarize(samples);
      return {
        model: model.label,
        contender,
        'prompt tok/s median (min–max)': `${fmt(s.median, 0)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`,
        [`vs llama-bench -t ${ctx.batchThreads}`]: ratio(s.median, base.median),
      };
    };
    const server = (res.corral ?? []).map((r) => r.server);
    rows.push(
      row(`Corral /api/generate (prompt_eval_count / prompt_eval_duration), ${counted} tokens`, server),
      row(
        'Corral, client side (prompt tokens / time to first token)',
        (res.corral ?? []).map((r) => r.client),
      ),
    );
    for (const [key, samples] of Object.entries(res)) {
      if (key !== 'corral')
        rows.push(
          row(
            key,
            samples.map((r) => r.server),
          ),
        );
    }
    if (model.real && benchBin) verdict = summarize(server).median >= 0.9 * base.median ? 'holds' : 'missed';
  }
  return {
    id: 'prompt',
    title: '4. Prompt processing, 1,000-token prompt',
    bar: '≥ 90% of llama-bench',
    verdict,
    notes: [
      `Corral: num_predict 1, a unique first word per request (no prefix reuse), batch 512 (node-llama-cpp default), prompt steps on ${ctx.batchThreads} threads (CORRAL_BATCH_THREADS); ` +
        'llama-bench: -n 0 -r 1 per interleaved round (its defaults: -b 2048 -ub 512, one warm-up run).',
    ],
    rows,
  };
}
