/** Scenario 6: memory of the gateway (idle, under 16 streams) and of the worker per loaded model. */
import { corralGenerate } from '../support/clients';
import type { BenchContext, Row, ScenarioResult } from '../support/context';
import type { CorralServer } from '../support/corral';
import { jsonRequest } from '../support/http';
import { MiB, rssBytes } from '../support/procs';
import { fmt } from '../support/stats';
import { burst, prompt } from './concurrency';

const mib = (b: number) => fmt(b / MiB, 1);

/** Unloads a model (keep_alive 0) and waits until /api/ps no longer lists it. */
export async function unloadModel(s: CorralServer, name: string): Promise<void> {
  await jsonRequest('POST', `${s.url}/api/generate`, { model: name, keep_alive: 0 }, s.auth);
  for (let i = 0; i < 200; i++) {
    const ps = await jsonRequest<{ models: { name: string }[] }>('GET', `${s.url}/api/ps`, undefined, s.auth);
    if (!ps.models.some((m) => m.name.startsWith(name))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${name} did not unload`);
}

export async function memoryScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { corral } = ctx;
  const rows: Row[] = [];
  for (const m of [...ctx.models, ...(ctx.compute ? [ctx.compute] : [])]) await unloadModel(corral, m.name);
  await new Promise((r) => setTimeout(r, 500));
  rows.push({
    process: 'gateway',
    state: 'idle (no model loaded)',
    'RSS MiB': mib(rssBytes(corral.pid)),
    'model file MiB': '–',
    note: '',
  });
  const workerBase = rssBytes(corral.workerPid());
  rows.push({
    process: 'worker',
    state: 'no model loaded',
    'RSS MiB': mib(workerBase),
    'model file MiB': '–',
    note: 'llama.cpp and node-llama-cpp loaded',
  });
  let before = workerBase;
  for (const m of ctx.models) {
    await jsonRequest('POST', `${corral.url}/api/generate`, { model: m.name }, corral.auth);
    await new Promise((r) => setTimeout(r, 200));
    const after = rssBytes(corral.workerPid());
    rows.push({
      process: 'worker',
      state: `+ ${m.label}`,
      'RSS MiB': mib(after),
      'model file MiB': mib(m.sizeBytes),
      note: `+${mib(after - before)} MiB for this model (weights + KV cache ${ctx.parallel} × ${ctx.ctxPerSlot} tokens + compute buffers)`,
    });
    before = after;
    const ls = ctx.llamaServers.get(m.name);
    if (ls) {
      rows.push({
        process: `llama-server -np ${ctx.parallel}`,
        state: `${m.label} loaded`,
        'RSS MiB': mib(rssBytes(ls.pid)),
        'model file MiB': mib(m.sizeBytes),
        note: 'whole process, for comparison',
      });
    }
  }
  // Gateway under 16 streams: sample RSS while they run.
  const model = ctx.models[ctx.models.length - 1];
  if (model) {
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, rssBytes(corral.pid))), 10);
    await burst(16, (i) => corralGenerate(corral, model.name, { prompt: prompt(i), maxTokens: 128 }));
    clearInterval(timer);
    rows.push({
      process: 'gateway',
      state: `16 streams × 128 tokens (${model.label})`,
      'RSS MiB': mib(peak),
      'model file MiB': '–',
      note: 'peak, sampled every 10 ms',
    });
    await new Promise((r) => setTimeout(r, 300));
    rows.push({
      process: 'gateway',
      state: 'idle after the streams',
      'RSS MiB': mib(rssBytes(corral.pid)),
      'model file MiB': '–',
      note: '',
    });
  }
  return {
    id: 'memory',
    title: '6. Memory',
    verdict: 'n/a',
    notes: [
      'RSS from /proc/<pid>/status; the worker loads each model with mmap (weights count once they are touched).',
    ],
    rows,
  };
}
