/** POST /v1/embeddings: request → inputs, and vectors → OpenAI's list of `embedding` objects. */
import { CorralError } from '@corral/common';
import type { EmbeddingRequest } from './dto/embedding.dto';

export function embeddingInputs(input: EmbeddingRequest['input']): string[] {
  const list: unknown[] = typeof input === 'string' ? [input] : input;
  if (list.length === 0) throw new CorralError('bad_request', `'input' must have at least 1 item`, 'input');
  return list.map((item, i) => {
    const param = typeof input === 'string' ? 'input' : `input[${i}]`;
    if (typeof item !== 'string') {
      throw new CorralError('unsupported', `'input' as token ids is not supported: send text`, 'input');
    }
    // llama.cpp has nothing to pool for an empty input; OpenAI refuses it too.
    if (item === '') throw new CorralError('bad_request', `'${param}' must not be empty`, param);
    return item;
  });
}

/** Checks `dimensions` against the model before running, when the model says its width. */
export function checkDimensions(dimensions: number | null | undefined, modelWidth: number | undefined): void {
  if (dimensions && modelWidth && dimensions > modelWidth) {
    throw new CorralError(
      'bad_request',
      `'dimensions' must be at most ${modelWidth} for this model`,
      'dimensions',
    );
  }
}

/**
 * Keeps the first `dimensions` components and rescales to unit length, which is what OpenAI's
 * shortened embeddings are (Matryoshka-trained models keep their meaning in the leading ones).
 */
export function shorten(vector: readonly number[], dimensions: number | null | undefined): number[] {
  if (!dimensions || dimensions === vector.length) return [...vector];
  if (dimensions > vector.length) {
    throw new CorralError(
      'bad_request',
      `'dimensions' must be at most ${vector.length} for this model`,
      'dimensions',
    );
  }
  const head = vector.slice(0, dimensions);
  const norm = Math.sqrt(head.reduce((sum, x) => sum + x * x, 0));
  return norm > 0 ? head.map((x) => x / norm) : head;
}

/** Little-endian float32 bytes, base64: what OpenAI sends and its SDKs decode into a Float32Array. */
export function toBase64Floats(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

export interface EmbeddingList {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export function embeddingList(
  model: string,
  vectors: readonly (readonly number[])[],
  promptTokens: number,
  opts: { dimensions?: number | null; encoding?: 'float' | 'base64' | null },
): EmbeddingList {
  return {
    object: 'list',
    data: vectors.map((v, index) => {
      const vector = shorten(v, opts.dimensions);
      return {
        object: 'embedding',
        index,
        embedding: opts.encoding === 'base64' ? toBase64Floats(vector) : vector,
      };
    }),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}
