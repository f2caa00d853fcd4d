/** What a worker announces in its heartbeat, validated by every gateway that reads it. */
import { z } from 'zod';
import { WorkerInfoSchema } from '@corral/worker-protocol';

export const WorkerModelSchema = z.object({
  /** Instance key (digest, context, parallel, gpu layers, adapters). */
  key: z.string(),
  name: z.string(),
  sizeBytes: z.number(),
  vramBytes: z.number(),
  numCtx: z.number().int(),
  numParallel: z.number().int(),
  /** Generation/embedding jobs running or waiting for a sequence on this instance (all gateways). */
  active: z.number().int().nonnegative(),
  /** Gateways that hold this instance (loaded it or ran a job on it since). */
  holders: z.array(z.string()),
});
export type WorkerModel = z.infer<typeof WorkerModelSchema>;

export const WorkerStatusSchema = z.object({
  id: z.string().min(1),
  host: z.string(),
  /** ms since the epoch when this heartbeat was written (worker clock). */
  at: z.number(),
  startedAt: z.number(),
  info: WorkerInfoSchema,
  /** Bytes this worker may place models in (GPU memory, or RAM for the CPU backend). */
  memoryBytes: z.number().nonnegative(),
  /** Of which held by loaded models or reserved by loads in progress. */
  usedBytes: z.number().nonnegative(),
  models: z.array(WorkerModelSchema),
  /** Jobs (any kind) the worker is running, with the gateway that sent each. */
  jobs: z.number().int().nonnegative(),
  /** Blob digests in the worker's own models directory; absent when it reads a shared one. */
  blobs: z.array(z.string()).optional(),
});
export type WorkerStatus = z.infer<typeof WorkerStatusSchema>;

export function freeBytes(s: WorkerStatus): number {
  return Math.max(0, s.memoryBytes - s.usedBytes);
}
