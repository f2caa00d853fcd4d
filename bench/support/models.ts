/**
 * The models the benchmarks run: a generated scripted model (exact, long, deterministic output and
 * almost no arithmetic, so it measures the gateway's own cost per token), the real stories260K
 * from ../shared/models when it is there, and a generated compute-bound model (random weights, the
 * size of a small real model) that shows how a fixed per-token cost weighs once a forward pass does
 * real arithmetic.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { buildScriptedModel, buildTinyLlama } from '@corral/registry';

export interface BenchModel {
  /** Name imported into Corral. */
  name: string;
  path: string;
  /** What the tables say about it. */
  label: string;
  sizeBytes: number;
  sha256: string;
  real: boolean;
}

/** Tokens the overhead model emits before EOS: more than any scenario asks for. */
export const OVERHEAD_SCRIPT_TOKENS = 300;

function describe(name: string, path: string, label: string, real: boolean): BenchModel {
  const data = readFileSync(path);
  return {
    name,
    path,
    label,
    sizeBytes: data.length,
    sha256: createHash('sha256').update(data).digest('hex'),
    real,
  };
}

export async function overheadModel(): Promise<BenchModel> {
  const dir = join(tmpdir(), 'corral-bench-models');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `scripted-${OVERHEAD_SCRIPT_TOKENS}.gguf`);
  if (!existsSync(path) || statSync(path).size === 0) {
    // Unique pieces: the scripted model's next token depends on the last token only.
    const script = Array.from({ length: OVERHEAD_SCRIPT_TOKENS }, (_, i) => `▁w${i}`);
    await buildScriptedModel(path, { script, name: 'corral-bench-scripted' });
  }
  return describe(
    'bench-scripted',
    path,
    `generated scripted model (${OVERHEAD_SCRIPT_TOKENS} tokens then EOS)`,
    false,
  );
}

export const SHARED_MODELS = resolve(__dirname, '../../../../shared/models');

/** stories260K from ../shared/models, or undefined when it is not there. */
export function realModel(): BenchModel | undefined {
  const candidates = [
    process.env.CORRAL_BENCH_MODEL,
    join(SHARED_MODELS, 'stories260K.gguf'),
    resolve(__dirname, '../../../shared/models/stories260K.gguf'),
  ];
  const path = candidates.find((p): p is string => !!p && existsSync(p));
  if (!path) return undefined;
  return describe('bench-real', path, `${basename(path)} (real, ../shared/models)`, true);
}

/** Shape of the compute-bound model: ~460M parameters in F16 (~0.9 GB), ~30 tok/s on one core here. */
const COMPUTE = { hidden: 2048, blocks: 12 };

/**
 * A llama model with seeded random weights whose forward pass costs what a small real model's does
 * (tens of ms per token on one CPU thread). Its output is nonsense, identical for every contender
 * under greedy sampling. Generated once into the temp directory (~1 min); CORRAL_BENCH_COMPUTE=0 skips it.
 */
export async function computeModel(): Promise<BenchModel | undefined> {
  if (process.env.CORRAL_BENCH_COMPUTE === '0') return undefined;
  const dir = join(tmpdir(), 'corral-bench-models');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `compute-${COMPUTE.hidden}x${COMPUTE.blocks}-f16.gguf`);
  if (!existsSync(path) || statSync(path).size === 0) {
    await buildTinyLlama(path, {
      embeddingLength: COMPUTE.hidden,
      blockCount: COMPUTE.blocks,
      weightType: 'F16',
      name: 'corral-bench-compute',
    });
  }
  const m = describe('bench-compute', path, '', false);
  const params = Math.round(m.sizeBytes / 2 / 1e6);
  return { ...m, label: `generated compute-bound model (~${params}M params, F16, random weights)` };
}
