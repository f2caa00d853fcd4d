/**
 * Settings of a worker process (the forked one and `corral worker`): one schema, parsed once by the
 * worker's entry from the environment the gateway (or the operator) sets, and written by the gateway
 * from the same type (`workerSettingsEnv`). The parsers are lenient where the worker always was
 * (CORRAL_GPU=none, upper case, spaces); the gateway's own schema (schema.ts) is the strict gate.
 */
import { z } from 'zod';
import { parseDuration } from './duration';

/** Value of `CORRAL_GPU`: which llama.cpp backend to load. */
export type GpuChoice = 'auto' | 'cuda' | 'vulkan' | 'metal' | 'cpu';

export function parseGpuChoice(value: string | undefined): GpuChoice {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'cpu' || v === 'false' || v === 'none' || v === '0') return 'cpu';
  if (v === 'cuda' || v === 'vulkan' || v === 'metal') return v;
  throw new Error(`CORRAL_GPU must be one of auto, cuda, vulkan, metal, cpu (got "${value}")`);
}

export type DecodeLoopChoice = 'native' | 'batched' | 'sequence';

/**
 * Value of `CORRAL_DECODE_LOOP`: how the worker generates (libs/inference/decode-loop.ts). `native` (the
 * default) is the batched loop plus the native loop for the steps of streams past their prompts, where built.
 */
export function parseDecodeLoop(value: string | undefined): DecodeLoopChoice {
  const v = (value || 'native').trim().toLowerCase();
  if (v === 'native' || v === 'batched' || v === 'sequence') return v;
  throw new Error(`CORRAL_DECODE_LOOP must be native, batched or sequence (got "${value}")`);
}

/** Value of `CORRAL_THREADS` (or `name`): a positive integer, or undefined to let the worker choose. */
export function parseThreads(value: string | undefined, name = 'CORRAL_THREADS'): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer (got "${value}")`);
  return n;
}

/** CORRAL_JOB_STALL_TIMEOUT's default, in ms. */
export const DEFAULT_JOB_STALL_TIMEOUT_MS = 120_000;

/** CORRAL_JOB_STALL_TIMEOUT as the gateway's schema and the worker's check it. */
export const JOB_STALL_TIMEOUT = z
  .string()
  .refine((v) => (parseDuration(v) ?? 0) >= 1000, 'must be a duration of at least 1s, like 120s')
  .default('120s');

/** A parser that throws as a zod issue (the worker's messages name the key and the value). */
const via =
  <T>(parse: (v: string | undefined) => T) =>
  (v: string | undefined, ctx: z.RefinementCtx): T => {
    try {
      return parse(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
      return z.NEVER;
    }
  };

export const WorkerSettingsSchema = z
  .object({
    CORRAL_GPU: z.string().optional().transform(via(parseGpuChoice)),
    CORRAL_THREADS: z.string().optional().transform(via(parseThreads)),
    CORRAL_BATCH_THREADS: z
      .string()
      .optional()
      .transform(via((v) => parseThreads(v, 'CORRAL_BATCH_THREADS'))),
    CORRAL_DECODE_LOOP: z.string().optional().transform(via(parseDecodeLoop)),
    CORRAL_JOB_STALL_TIMEOUT: z
      .string()
      .optional()
      .transform(
        via((v) => {
          if (v === undefined || v.trim() === '') return DEFAULT_JOB_STALL_TIMEOUT_MS;
          const ms = parseDuration(v);
          if (ms === undefined || ms < 1000)
            throw new Error(`CORRAL_JOB_STALL_TIMEOUT must be a duration of at least 1s (got "${v}")`);
          return ms;
        }),
      ),
    UV_THREADPOOL_SIZE: z.string().optional(),
  })
  .transform((e) => ({
    /** llama.cpp backend. Defaults to 'auto'. */
    gpu: e.CORRAL_GPU,
    /** llama.cpp threads; undefined: chosen from the hardware (libs/inference/hardware.ts). */
    threads: e.CORRAL_THREADS,
    /** llama.cpp threads for prompt batches; undefined: chosen from the hardware. */
    batchThreads: e.CORRAL_BATCH_THREADS,
    /** Generation loop. Defaults to 'native'. */
    decodeLoop: e.CORRAL_DECODE_LOOP,
    /** A computing job with no progress this long fails and the worker restarts. Defaults to 120 s. */
    jobStallTimeoutMs: e.CORRAL_JOB_STALL_TIMEOUT,
    /**
     * libuv reads UV_THREADPOOL_SIZE once, when its pool starts; only a one-thread pool keeps jobs in
     * order, which lets the decode loop queue a step's samples behind its decode.
     */
    chainSamples: e.UV_THREADPOOL_SIZE?.trim() === '1',
  }));

export type WorkerSettings = z.output<typeof WorkerSettingsSchema>;

/** Reads the worker's settings from its environment; throws one error naming every bad key. */
export function workerSettings(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const parsed = WorkerSettingsSchema.safeParse({
    CORRAL_GPU: env.CORRAL_GPU,
    CORRAL_THREADS: env.CORRAL_THREADS,
    CORRAL_BATCH_THREADS: env.CORRAL_BATCH_THREADS,
    CORRAL_DECODE_LOOP: env.CORRAL_DECODE_LOOP,
    CORRAL_JOB_STALL_TIMEOUT: env.CORRAL_JOB_STALL_TIMEOUT,
    UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE,
  });
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

/**
 * The environment a worker reads `settings` back from (the gateway's side of the schema). Keys left
 * undefined are not set, so the worker's defaults (or the inherited environment) apply.
 */
export function workerSettingsEnv(
  settings: Partial<Omit<WorkerSettings, 'chainSamples'>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (settings.gpu !== undefined) env.CORRAL_GPU = settings.gpu;
  if (settings.threads) env.CORRAL_THREADS = String(settings.threads);
  if (settings.batchThreads) env.CORRAL_BATCH_THREADS = String(settings.batchThreads);
  if (settings.decodeLoop !== undefined) env.CORRAL_DECODE_LOOP = settings.decodeLoop;
  if (settings.jobStallTimeoutMs !== undefined)
    env.CORRAL_JOB_STALL_TIMEOUT = `${settings.jobStallTimeoutMs}ms`;
  return env;
}
