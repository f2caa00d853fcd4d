import * as os from 'node:os';
import type { Llama, LlamaGpuType } from 'node-llama-cpp';
import { loadNodeLlamaCpp } from './llama-module';
import type { WorkerInfo } from '@corral/worker-protocol';

// The settings' parsers moved to @corral/config (WorkerSettings); re-exported for this feature's users.
export {
  parseDecodeLoop,
  parseGpuChoice,
  parseThreads,
  type DecodeLoopChoice,
  type GpuChoice,
} from '@corral/config';
import type { GpuChoice } from '@corral/config';

/**
 * Default llama.cpp thread count.
 *
 * Measured on the 2-core CI box (AMD EPYC, 2 vCPUs) with stories260K, CPU backend, greedy decode of
 * 400 tokens, in-process beside Node:
 *   - 1 thread: 1093 tok/s single stream, 1510 tok/s over 4 parallel sequences
 *   - 2 threads:  85 tok/s single stream,   94 tok/s over 4 parallel sequences
 * llama.cpp's worker threads spin-wait between graph nodes; with every core taken they fight the JS
 * thread (which must run between tokens to sample and dispatch) and decode gets >10x slower.
 * Prompt processing of an 1800-token batch went the other way (616 tok/s with 1 thread, 1038 with 2)
 * because JS is idle during one big batch, but decode dominates interactive latency, so the rule
 * leaves one core to Node: CPU backend → cores − 1 (min 1).
 * With a GPU backend the math runs on the device and CPU threads only feed it (plus any layers left on
 * the CPU), so a small count avoids the same contention: min(4, cores − 1), min 1. Not measured here
 * (no GPU on the box); override with CORRAL_THREADS.
 */
export function chooseThreads(backend: WorkerInfo['backend'], mathCores: number): number {
  const spare = Math.max(1, mathCores - 1);
  return backend === 'cpu' ? spare : Math.min(4, spare);
}

/**
 * Default llama.cpp thread count for prompt batches (llama.cpp's n_threads_batch): a decode step that
 * carries at least PREFILL_STEP_TOKENS prompt tokens is one long stretch of arithmetic during which
 * the JS threads have little to do, so on a CPU backend it gets every core. Measured on the 2-core box,
 * in-process, 1,000-token prompt, batch 512: stories260K 1,062–1,070 tok/s with 1 thread against
 * 2,026–2,105 with 2; the ~456M-parameter F16 model 46 against 87–90 tok/s. Token-by-token decode
 * steps keep `chooseThreads` (above). With a GPU backend the device does the batch: same as threads.
 */
export function chooseBatchThreads(
  backend: WorkerInfo['backend'],
  mathCores: number,
  threads: number,
): number {
  return backend === 'cpu' ? Math.max(threads, mathCores) : threads;
}

export interface LlamaStartOptions {
  gpu: GpuChoice;
  /** Overrides the measured default. */
  threads?: number;
  /** Overrides the default for prompt batches (chooseBatchThreads). */
  batchThreads?: number;
  log: (line: string) => void;
}

export interface StartedLlama {
  llama: Llama;
  threads: number;
  batchThreads: number;
}

/**
 * Loads the llama.cpp binding. `build: 'never'` + `skipDownload` means only a local build or a
 * prebuilt binary shipped in node_modules is ever used: nothing is fetched or compiled at run time.
 */
export async function startLlama(opts: LlamaStartOptions): Promise<StartedLlama> {
  const { getLlama, LlamaLogLevel } = await loadNodeLlamaCpp();
  const gpu: 'auto' | LlamaGpuType = opts.gpu === 'cpu' ? false : opts.gpu;
  const llama = await getLlama({
    gpu,
    build: 'never',
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => opts.log(`llama.cpp ${level}: ${message.trimEnd()}`),
  });
  const backend = backendOf(llama);
  const threads = opts.threads ?? chooseThreads(backend, llama.cpuMathCores);
  const batchThreads = opts.batchThreads ?? chooseBatchThreads(backend, llama.cpuMathCores, threads);
  // One thread budget shared by every context of this worker, so two loaded models do not
  // oversubscribe the cores; a model asking for more (numThread) raises it explicitly.
  llama.maxThreads = threads;
  opts.log(
    `llama.cpp ${llama.llamaCppRelease.release} (${llama.buildType}) backend=${backend} ` +
      `threads=${threads}${opts.threads ? ' (CORRAL_THREADS)' : ''} ` +
      `batchThreads=${batchThreads}${opts.batchThreads ? ' (CORRAL_BATCH_THREADS)' : ''} mathCores=${llama.cpuMathCores}`,
  );
  return { llama, threads, batchThreads };
}

export function backendOf(llama: Llama): WorkerInfo['backend'] {
  return llama.gpu === false ? 'cpu' : llama.gpu;
}

export async function describeHardware(llama: Llama, threads: number): Promise<WorkerInfo> {
  const [names, vram, ram] = await Promise.all([
    llama.getGpuDeviceNames(),
    llama.getVramState(),
    llama.getRamState(),
  ]);
  // llama.cpp reports VRAM summed over devices; split evenly when there are several, which is exact
  // for the usual identical cards and an estimate otherwise.
  const gpus =
    llama.gpu === false
      ? []
      : names.map((name) => ({
          name,
          totalBytes: Math.round(vram.total / names.length),
          freeBytes: Math.round(vram.free / names.length),
        }));
  return {
    pid: process.pid,
    backend: backendOf(llama),
    gpus,
    ramTotalBytes: ram.total,
    ramFreeBytes: ram.free,
    threads,
    cpuCores: os.availableParallelism(),
  };
}
