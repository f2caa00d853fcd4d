/**
 * Quantizes a GGUF with llama.cpp's own `llama_model_quantize`, from the libllama that
 * node-llama-cpp's prebuilt binaries ship, called through koffi in a child process: llama.cpp
 * aborts the process on some inputs, and that must not take the gateway down.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { readGguf } from '../gguf';
import { QUANTIZE_CHILD_SOURCE } from './child-source';
import { QUANTIZATION_TYPES, parseQuantizationType, type QuantizationType } from './types';

export interface QuantizeOptions {
  /** Target type, e.g. `q4_K_M` (any case). */
  type: string;
  /** Quantize tensors that are already quantized (lossy twice over). Defaults to false: refused. */
  allowRequantize?: boolean;
  /** Threads for llama.cpp. Defaults to the CPU count minus one (at least 1). */
  threads?: number;
  /** libllama to use. Defaults to the one in node-llama-cpp's prebuilt binaries for this platform. */
  libraryPath?: string;
  signal?: AbortSignal;
  /** Ollama-style status lines: "quantizing F16 model to Q4_K_M", then per-tensor progress. */
  progress?: (status: string) => void;
}

const FLOAT_TYPES = new Set(['F32', 'F16', 'BF16']);

/** The prebuilt libllama of node-llama-cpp for this platform (CPU build: quantizing runs on the CPU). */
export function findLibllama(): string {
  const plat = `${process.platform}-${process.arch}`;
  const ext = process.platform === 'darwin' ? '.dylib' : process.platform === 'win32' ? '.dll' : '.so';
  for (const base of require.resolve.paths('koffi') ?? []) {
    const dir = join(base, '@node-llama-cpp', plat, 'bins', plat);
    if (!existsSync(dir)) continue;
    const lib = readdirSync(dir).find((f) => /^(lib)?llama(\.v[\d.]+)?/.test(f) && f.endsWith(ext));
    if (lib && !lib.startsWith('llama-addon')) return join(dir, lib);
  }
  throw new CorralError('unsupported', `quantization needs node-llama-cpp's prebuilt binaries for ${plat}`);
}

/** The model's current type by its 2-D weights (general.file_type can be absent or stale). */
export async function describeWeights(path: string): Promise<{ fileType: string; quantized: string[] }> {
  const gguf = await readGguf(path);
  const counts = new Map<string, number>();
  const quantized: string[] = [];
  for (const t of gguf.tensors) {
    if (t.dims.length < 2) continue;
    counts.set(t.typeName, (counts.get(t.typeName) ?? 0) + 1);
    if (!FLOAT_TYPES.has(t.typeName)) quantized.push(t.name);
  }
  const fileType = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  return { fileType, quantized };
}

/**
 * Writes `output` as `input` quantized to `opts.type`. Refuses an input that already holds
 * quantized weights unless `allowRequantize`. The caller owns `output` (a temp path) on failure.
 */
export async function quantizeGguf(
  input: string,
  output: string,
  opts: QuantizeOptions,
): Promise<QuantizationType> {
  const type = parseQuantizationType(opts.type);
  const { fileType, quantized } = await describeWeights(input);
  if (quantized.length && !opts.allowRequantize) {
    throw new CorralError(
      'bad_request',
      `model is already quantized (${fileType}); quantizing it again loses quality. ` +
        'Quantize from an F32/F16/BF16 model, or set "allow_requantize": true to do it anyway',
      'quantize',
    );
  }
  const lib = opts.libraryPath ?? findLibllama();
  const threads = opts.threads ?? Math.max(1, availableParallelism() - 1);
  const status = `quantizing ${fileType} model to ${type}`;
  opts.progress?.(status);
  opts.signal?.throwIfAborted();

  const args = [
    '-e',
    QUANTIZE_CHILD_SOURCE,
    require.resolve('koffi'),
    lib,
    input,
    output,
    String(QUANTIZATION_TYPES[type]),
    opts.allowRequantize ? '1' : '0',
    String(threads),
  ];
  // cwd = the binaries folder: ggml looks for its CPU backend variants there.
  const child = spawn(process.execPath, args, { cwd: join(lib, '..'), stdio: ['ignore', 'ignore', 'pipe'] });
  const onAbort = (): void => void child.kill('SIGKILL');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let tail = '';
  let partial = '';
  let lastPct = -1;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4000);
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^\[\s*(\d+)\/\s*(\d+)\]/.exec(line);
      if (!m) continue;
      const done = Number(m[1]);
      const total = Number(m[2]);
      const pct = Math.floor((done / total) * 10);
      if (pct !== lastPct) {
        lastPct = pct;
        opts.progress?.(`${status} (${done}/${total} tensors)`);
      }
    }
  });
  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c, s) => resolve([c, s]));
  }).finally(() => opts.signal?.removeEventListener('abort', onAbort));
  opts.signal?.throwIfAborted();
  if (code !== 0) {
    const why = sig ? `crashed (${sig})` : `failed (exit code ${code})`;
    const detail = /error[^\n]*|failed[^\n]*/i.exec(tail)?.[0];
    throw new CorralError('internal', `quantizing to ${type} ${why}${detail ? `: ${detail.trim()}` : ''}`);
  }
  return type;
}
