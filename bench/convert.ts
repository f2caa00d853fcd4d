/**
 * Safetensors → GGUF conversion throughput and quantization time. A random Llama-shaped checkpoint
 * (~100 MB in F16, ~200 MB in F32) is built in a temp dir; Corral converts it (MB/s of tensor data
 * read), then quantizes the F16 GGUF with llama.cpp's quantizer through koffi (one thread, as the
 * harness's other scenarios run). When the bench build cache holds llama.cpp's own `llama-quantize`
 * (built from the same bundled source against the same prebuilt libllama), it quantizes the same
 * input with the same thread count, interleaved (median of 3 rounds), for comparison; otherwise a
 * note says it was not there.
 *
 * Run alone: `npm run build && node -e "require('./dist/bench/convert.js').run().then(r => console.table(r.rows))"`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyHf, checkpointFromDir, convertCheckpoint, quantizeGguf } from '@corral/registry';
import { findLlamaCpp } from './llama-cpp';

type Row = Record<string, string | number>;

const SHAPE = { hidden: 1024, layers: 4, heads: 16, kvHeads: 4, ff: 2816 };
const THREADS = Number(process.env.CORRAL_BENCH_THREADS ?? 1);
const MB = 1024 * 1024;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, (performance.now() - t0) / 1000];
}

function llamaQuantizeBinary(): string | undefined {
  const bin = findLlamaCpp()?.quantize;
  return bin && existsSync(bin) ? bin : undefined;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function runBinary(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} exited with ${code}`))));
  });
}

export async function run(): Promise<{ title: string; rows: Row[]; notes: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'corral-bench-convert-'));
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const hf = join(dir, `hf-${dtype}`);
      await buildTinyHf(hf, { family: 'llama', dtype, ...SHAPE });
      const out = join(dir, `${dtype}.gguf`);
      const files = await checkpointFromDir(hf);
      // Median of 3: the first run also pays for reading the fresh files from disk.
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await timed(() => convertCheckpoint(files, out)));
      runs.sort((a, b) => a[1] - b[1]);
      const [plan, seconds] = runs[1]!;
      rows.push({
        step: `convert ${dtype} safetensors → GGUF`,
        input_MB: +(plan.sourceBytes / MB).toFixed(1),
        output_MB: +(plan.bytes / MB).toFixed(1),
        seconds: +seconds.toFixed(2),
        'MB/s': +(plan.sourceBytes / MB / seconds).toFixed(0),
      });
      if (dtype !== 'F16') await rm(hf, { recursive: true, force: true });
    }

    const input = join(dir, 'F16.gguf');
    const inMB = (await stat(input)).size / MB;
    const binary = llamaQuantizeBinary();
    if (!binary)
      notes.push(
        'llama-quantize not found in the bench build cache (run `npm run bench:setup`): no baseline row',
      );
    for (const type of ['q8_0', 'q4_K_M']) {
      // Interleaved rounds, median of each: the same input, type and thread count on both sides.
      const out = join(dir, `corral-${type}.gguf`);
      const ref = join(dir, `llama-${type}.gguf`);
      const corral: number[] = [];
      const llama: number[] = [];
      for (let round = 0; round < 3; round++) {
        corral.push((await timed(() => quantizeGguf(input, out, { type, threads: THREADS })))[1]);
        if (binary)
          llama.push(
            (await timed(() => runBinary(binary, [input, ref, type.toUpperCase(), String(THREADS)])))[1],
          );
      }
      const seconds = median(corral);
      rows.push({
        step: `quantize F16 → ${type} (Corral: libllama via koffi, child process)`,
        input_MB: +inMB.toFixed(1),
        output_MB: +((await stat(out)).size / MB).toFixed(1),
        seconds: +seconds.toFixed(2),
        'MB/s': +(inMB / seconds).toFixed(0),
        'vs llama-quantize': binary ? `${((median(llama) / seconds) * 100).toFixed(1)}%` : '–',
      });
      if (binary) {
        const s2 = median(llama);
        rows.push({
          step: `quantize F16 → ${type} (llama.cpp llama-quantize)`,
          input_MB: +inMB.toFixed(1),
          output_MB: +((await stat(ref)).size / MB).toFixed(1),
          seconds: +s2.toFixed(2),
          'MB/s': +(inMB / s2).toFixed(0),
          'vs llama-quantize': '100.0%',
        });
      }
    }
    notes.push(
      `checkpoint: Llama-shaped, ${JSON.stringify(SHAPE)}, random weights; quantize threads: ${THREADS}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { title: 'Safetensors import: conversion throughput and quantization time', rows, notes };
}
