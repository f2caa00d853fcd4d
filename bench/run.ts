/**
 * `npm run bench`: holds Corral against llama.cpp itself. Builds (once, cached) llama-server and
 * llama-bench from the llama.cpp source node-llama-cpp ships, starts Corral the way a user does, runs
 * every scenario of issue 7 with its contenders interleaved, then any other benchmark module in
 * bench/ (a file exporting `run(): Promise<{ title, rows }>`), prints one markdown table per
 * scenario and writes everything as JSON under bench/results/.
 *
 * Knobs: CORRAL_BENCH_ONLY=decode,ttft,... (a subset), CORRAL_BENCH_QUICK=1 (fewer repetitions),
 * CORRAL_BENCH_THREADS (default 1, the worker's choice on 2 cores), CORRAL_BENCH_MODEL (the real GGUF),
 * CORRAL_BENCH_CACHE (llama.cpp build cache), CORRAL_BENCH_SKIP_LLAMA_CPP=1 (Corral only, no baselines),
 * CORRAL_BENCH_PARTIAL=1 (use whichever llama.cpp binaries an unfinished build has produced; builds nothing),
 * CORRAL_BENCH_BUDGET (seconds, default 810: other modules that would start past it are skipped).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseDecodeLoop } from '@corral/config';
import { nativeDecodeAddon, nativeDecodeLoadError } from '@corral/inference';
import { ensureLlamaCpp, findLlamaCpp } from './llama-cpp';
import type { BenchContext, Row, ScenarioResult } from './support/context';
import { REPO_ROOT, importModel, startCorral } from './support/corral';
import { closeAgent } from './support/http';
import { startLlamaServer, type LlamaServer } from './support/llama-server';
import { computeModel, overheadModel, realModel, type BenchModel } from './support/models';
import { describeEnvironment, environment, markdownTable } from './support/report';
import { coldStartScenario } from './scenarios/cold-start';
import { concurrencyScenario } from './scenarios/concurrency';
import { decodeScenario } from './scenarios/decode';
import { gatewayScenario } from './scenarios/gateway';
import { memoryScenario } from './scenarios/memory';
import { promptScenario } from './scenarios/prompt';
import { ttftScenario } from './scenarios/ttft';

const SCENARIOS: [string, (ctx: BenchContext) => Promise<ScenarioResult>][] = [
  ['decode', decodeScenario],
  ['ttft', ttftScenario],
  ['concurrency', concurrencyScenario],
  ['prompt', promptScenario],
  ['gateway', gatewayScenario],
  ['memory', memoryScenario],
  ['cold-start', coldStartScenario],
];
/**
 * Seconds `npm run bench` aims to finish in (issue 7: under 15 minutes on the 2-core box, with the
 * build before it and a first llama.cpp tools build included). The seven scenarios always run; another
 * module starts only while MODULE_RESERVE_S (the longest one measured, ~75 s) of the budget is left,
 * so on a slow or contended machine the last modules are skipped with a note, not the whole run late.
 */
const DEFAULT_BUDGET_S = 810;
const MODULE_RESERVE_S = 90;

/** Files in bench/ that are not benchmark modules of their own. */
const NOT_MODULES = new Set(['run.js', 'llama-cpp.js']);

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function printResult(
  r: { title: string; rows: Row[]; bar?: string; verdict?: string; notes?: string[] },
  header: string,
) {
  const lines = [`\n### ${r.title}\n`, header];
  if (r.bar) lines.push(`bar: ${r.bar} — **${r.verdict ?? 'n/a'}**`);
  for (const n of r.notes ?? []) lines.push(`note: ${n}`);
  lines.push('', markdownTable(r.rows));
  console.log(lines.join('\n'));
}

/** Other engineers' benchmark modules: bench/*.ts compiled next to this file, exporting run(). */
async function otherModules(): Promise<
  { file: string; run: () => Promise<{ title: string; rows: Row[] }> }[]
> {
  const out = [];
  for (const file of readdirSync(__dirname).sort()) {
    if (!file.endsWith('.js') || NOT_MODULES.has(file)) continue;
    const mod = (await import(join(__dirname, file))) as { run?: unknown };
    if (typeof mod.run === 'function')
      out.push({ file, run: mod.run as () => Promise<{ title: string; rows: Row[] }> });
  }
  return out;
}

async function main(): Promise<void> {
  const started = Date.now();
  const only = process.env.CORRAL_BENCH_ONLY?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const quick = process.env.CORRAL_BENCH_QUICK === '1';
  const budgetSeconds = Number(process.env.CORRAL_BENCH_BUDGET ?? DEFAULT_BUDGET_S);
  const threads = Number(process.env.CORRAL_BENCH_THREADS ?? 1);
  // The worker's default for prompt steps on a CPU (hardware.ts chooseBatchThreads): every core.
  const batchThreads = Number(
    process.env.CORRAL_BENCH_BATCH_THREADS ?? Math.max(threads, availableParallelism()),
  );
  const parallel = 16;
  const ctxPerSlot = 2048;
  const env = environment(REPO_ROOT);

  const skipBaselines = process.env.CORRAL_BENCH_SKIP_LLAMA_CPP === '1';
  const hadBuild = !!findLlamaCpp();
  const setupStart = Date.now();
  const partial = process.env.CORRAL_BENCH_PARTIAL === '1';
  const llamaCpp = skipBaselines ? undefined : partial ? findLlamaCpp(true) : await ensureLlamaCpp(log);
  const setupSeconds = (Date.now() - setupStart) / 1000;

  const models: BenchModel[] = [await overheadModel()];
  const real = realModel();
  if (real) models.push(real);
  else log('no real model in ../shared/models (stories260K.gguf): the bars cannot be judged on a real model');
  const wantCompute = !only || only.includes('decode') || only.includes('concurrency');
  if (wantCompute) log('generating the compute-bound model (first run only)...');
  const compute = wantCompute ? await computeModel() : undefined;

  const modelLines = [...models, ...(compute ? [compute] : [])].map(
    (m) => `${m.label}: ${m.path}, ${m.sizeBytes} bytes, sha256 ${m.sha256.slice(0, 12)}`,
  );
  const decodeLoop = parseDecodeLoop(process.env.CORRAL_DECODE_LOOP);
  const header = [
    describeEnvironment(env),
    llamaCpp
      ? `llama.cpp: ${llamaCpp.commit.slice(0, 8)} (node-llama-cpp release ${llamaCpp.release}; worker's prebuilt binaries: ${llamaCpp.prebuiltRelease ?? '?'}), ` +
        `CPU build ${partial ? 'unfinished (CORRAL_BENCH_PARTIAL)' : hadBuild ? 'from cache' : `built now in ${setupSeconds.toFixed(0)} s`} (first build took ${llamaCpp.buildSeconds.toFixed(0)} s)` +
        (llamaCpp.server ? '' : '; llama-server NOT built yet: its rows are missing')
      : 'llama.cpp baselines skipped (CORRAL_BENCH_SKIP_LLAMA_CPP=1)',
    ...modelLines.map((l) => `model: ${l}`),
    `settings: CORRAL_THREADS=${threads} and llama.cpp -t ${threads}; CORRAL_BATCH_THREADS=${batchThreads} (prompt steps) and llama-bench -t ${batchThreads} as the prompt baseline; OLLAMA_NUM_PARALLEL=${parallel} and llama-server -np ${parallel}; ${ctxPerSlot} tokens of context per sequence`,
    `decode loop: CORRAL_DECODE_LOOP=${decodeLoop}${decodeLoop === 'native' ? (nativeDecodeAddon() ? ' (native loop built)' : ` (native loop NOT available: ${nativeDecodeLoadError()})`) : ''}`,
  ].join('\n');
  console.log(`# Corral benchmarks\n\n${header}`);

  const corral = await startCorral({
    CORRAL_THREADS: String(threads),
    CORRAL_BATCH_THREADS: String(batchThreads),
    OLLAMA_NUM_PARALLEL: String(parallel),
    OLLAMA_CONTEXT_LENGTH: String(ctxPerSlot),
    OLLAMA_KEEP_ALIVE: '-1',
  });
  const llamaServers = new Map<string, LlamaServer>();
  const results: ScenarioResult[] = [];
  const others: { file: string; title: string; rows: Row[]; error?: string }[] = [];
  try {
    log(`Corral at ${corral.url} (${Object.keys(corral.auth).length ? 'admin key' : 'no auth'})`);
    for (const m of [...models, ...(compute ? [compute] : [])]) {
      await importModel(corral, m.name, m.path, { parameters: { repeat_penalty: 1 } });
      if (llamaCpp?.server)
        llamaServers.set(
          m.name,
          await startLlamaServer(llamaCpp.server, { model: m.path, threads, parallel, ctxPerSlot }),
        );
    }
    const ctx: BenchContext = {
      corral,
      llamaServers,
      llamaCpp,
      models,
      compute,
      threads,
      batchThreads,
      parallel,
      ctxPerSlot,
      reps: (n) => (quick ? Math.max(2, Math.ceil(n / 3)) : n),
      log,
    };
    for (const [id, scenario] of SCENARIOS) {
      if (only && !only.includes(id)) continue;
      const t0 = Date.now();
      log(`scenario ${id}...`);
      try {
        const r = await scenario(ctx);
        results.push(r);
        printResult(r, header);
      } catch (e) {
        const r: ScenarioResult = {
          id,
          title: id,
          verdict: 'n/a',
          notes: [`FAILED: ${e instanceof Error ? e.stack : String(e)}`],
          rows: [],
        };
        results.push(r);
        printResult(r, header);
      }
      log(`scenario ${id} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    await Promise.all([...llamaServers.values()].map((s) => s.stop()));
    await corral.stop();
  }
  if (!only) {
    for (const mod of await otherModules()) {
      const elapsed = (Date.now() - started) / 1000;
      if (budgetSeconds - elapsed < MODULE_RESERVE_S) {
        // The seven scenarios always run; the other modules fill what is left of the time budget.
        const msg = `skipped: ${elapsed.toFixed(0)} s of the ${budgetSeconds} s time budget (CORRAL_BENCH_BUDGET) already used; run it alone with node dist/bench/${mod.file}`;
        others.push({ file: mod.file, title: mod.file, rows: [], error: msg });
        console.log(`\n### ${mod.file}\n\n${msg}`);
        log(`module ${mod.file} ${msg}`);
        continue;
      }
      log(`module ${mod.file}...`);
      const t0 = Date.now();
      try {
        const r = await mod.run();
        others.push({ file: mod.file, ...r });
        printResult(r, header);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        others.push({ file: mod.file, title: mod.file, rows: [], error: msg });
        console.log(`\n### ${mod.file}\n\nFAILED: ${msg}`);
      }
      log(`module ${mod.file} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  closeAgent();
  const totalSeconds = (Date.now() - started) / 1000;
  console.log(
    `\nbench finished in ${totalSeconds.toFixed(0)} s (llama.cpp setup ${setupSeconds.toFixed(0)} s)`,
  );
  const dir = join(REPO_ROOT, 'bench/results');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  const file = join(dir, `${env.date.replace(/[:.]/g, '-')}-${env.commit}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        environment: env,
        llamaCpp: llamaCpp ? { ...llamaCpp, setupSeconds } : null,
        models: models.map(({ name, path, label, sizeBytes, sha256, real }) => ({
          name,
          path,
          label,
          sizeBytes,
          sha256,
          real,
        })),
        settings: { threads, batchThreads, parallel, ctxPerSlot, quick },
        scenarios: results,
        modules: others,
        totalSeconds,
      },
      null,
      2,
    ),
  );
  log(`wrote ${file}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
