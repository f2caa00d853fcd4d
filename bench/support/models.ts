/**
 * The models the benchmarks run: a generated scripted model (exact, long, deterministic output and
 * almost no arithmetic, so it measures the gateway's own cost per token) and the real stories260K
 * from ../shared/models when it is there.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { buildScriptedModel } from '@corral/registry';

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
