import { MAX_EMBED_CHARS, MAX_EMBED_INPUTS } from '@corral/worker-protocol';
import { WorkerJobError } from './errors';
import type { ModelInstance } from './model-instance';
import { type JobProgress, UNWATCHED } from './progress-watch';
import type { EmbedJob, FromWorker } from '@corral/worker-protocol';

/**
 * Embeds each input with the model's embedding context and L2-normalizes the vectors, as Ollama's
 * /api/embed does, so cosine similarity is a plain dot product for callers (and the RAG store).
 */
export async function runEmbedding(
  job: EmbedJob,
  instance: ModelInstance,
  loadDurationNs: number,
  signal: AbortSignal,
  /** Armed around the embedding calls, ticked per input (progress-watch.ts). Defaults to none. */
  progress: JobProgress = UNWATCHED,
): Promise<Extract<FromWorker, { type: 'embeddings' }>> {
  const started = process.hrtime.bigint();
  // The gateway refuses these first; the worker holds to the same bounds whoever sent the job.
  if (job.inputs.length > MAX_EMBED_INPUTS)
    throw new WorkerJobError('bad_request', `at most ${MAX_EMBED_INPUTS} inputs may be embedded at once`);
  if (job.inputs.reduce((n, s) => n + s.length, 0) > MAX_EMBED_CHARS)
    throw new WorkerJobError('bad_request', `the inputs are more than ${MAX_EMBED_CHARS} characters in all`);
  const { context, contextSize } = await instance.getEmbeddingContext();
  const { model } = instance;
  const vectors: number[][] = [];
  let promptTokens = 0;
  for (const [i, input] of job.inputs.entries()) {
    signal.throwIfAborted();
    let tokens = model.tokenize(input, false);
    // node-llama-cpp adds the model's BOS/EOS itself and needs the result strictly shorter than the
    // context, so the room for text is measured through it rather than assumed.
    const overhead = context.calculateInputLength(tokens) - tokens.length;
    const room = contextSize - 1 - overhead;
    if (tokens.length > room) {
      if (!job.truncate) {
        throw new WorkerJobError(
          'context_overflow',
          `input ${i} is ${tokens.length + overhead} tokens, more than fits the context length ${contextSize}; enable truncate or raise num_ctx`,
        );
      }
      tokens = tokens.slice(0, Math.max(0, room));
    }
    progress.arm();
    const embedding = await context.getEmbeddingFor(tokens).finally(progress.disarm);
    vectors.push(l2Normalize(embedding.vector));
    promptTokens += tokens.length + overhead;
  }
  return {
    type: 'embeddings',
    id: job.id,
    vectors,
    promptTokens,
    loadDurationNs,
    totalDurationNs: Number(process.hrtime.bigint() - started) + loadDurationNs,
  };
}

export function l2Normalize(vector: readonly number[]): number[] {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const norm = Math.sqrt(sum);
  return norm === 0 ? [...vector] : vector.map((x) => x / norm);
}
