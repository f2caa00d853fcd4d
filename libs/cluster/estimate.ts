/**
 * How much memory a model instance needs, from its GGUF header and the requested context: the
 * weights (file size; mmap or not, they end up resident) plus the KV cache of every sequence plus a
 * compute-buffer allowance. Used by gateways to choose a worker and by workers to refuse a load that
 * would over-commit them.
 */
import { stat } from 'node:fs/promises';
import { readGguf } from '@corral/registry';

const MiB = 1024 * 1024;

function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0]; // per-layer arrays: take the first
  return undefined;
}

export interface ModelFootprint {
  weightsBytes: number;
  kvBytes: number;
  totalBytes: number;
}

export async function estimateFootprint(
  path: string,
  numCtx: number,
  numParallel: number,
  adapterPaths: string[] = [],
): Promise<ModelFootprint> {
  const size = (await stat(path)).size;
  let adapters = 0;
  for (const p of adapterPaths) adapters += (await stat(p)).size;
  let kvBytes = 0;
  try {
    const { metadata: m } = await readGguf(path);
    const arch = String(m['general.architecture'] ?? 'llama');
    const layers = num(m[`${arch}.block_count`]) ?? 0;
    const embd = num(m[`${arch}.embedding_length`]) ?? 0;
    const heads = num(m[`${arch}.attention.head_count`]) ?? 1;
    const kvHeads = num(m[`${arch}.attention.head_count_kv`]) ?? heads;
    const keyLen = num(m[`${arch}.attention.key_length`]) ?? embd / heads;
    const valueLen = num(m[`${arch}.attention.value_length`]) ?? embd / heads;
    // f16 K and V for every layer, cell and sequence.
    kvBytes = Math.ceil(layers * numCtx * numParallel * kvHeads * (keyLen + valueLen) * 2);
  } catch {
    kvBytes = 0; // not a readable GGUF header: the load itself will say why
  }
  // Compute buffers scale with the context; llama.cpp needs a few tens of MiB even for tiny models.
  const overhead = 16 * MiB + Math.ceil(0.05 * (size + kvBytes));
  return { weightsBytes: size + adapters, kvBytes, totalBytes: size + adapters + kvBytes + overhead };
}
