/**
 * The create steps that make a model layer rather than reuse one: converting a Hugging Face
 * checkpoint (uploaded as blobs, or a local directory named by FROM) and quantizing the model
 * layer. Outputs are written as temp files inside the blob directory (swept at start if a crash
 * leaves one) and stored by digest; the temp file is always removed.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CorralError } from '@corral/common';
import { isValidDigest, normalizeDigest, tempName } from '../blob-store';
import type { BuildContext } from '../create';
import { validateGguf } from '../gguf';
import { MEDIA_TYPES, type ManifestLayer } from '../manifests';
import { parseModelName, shortModelName } from '../names';
import { quantizeGguf } from '../quantize';
import type { GgufSummary } from '../types';
import { checkpointFromDir, convertCheckpoint, type CheckpointFiles } from './convert';

export interface MadeLayer {
  layer: ManifestLayer;
  status: string;
  gguf: GgufSummary;
}

async function store(ctx: BuildContext, tmp: string): Promise<MadeLayer> {
  const r = await ctx.blobs.putFile(tmp, { lease: ctx.lease, signal: ctx.signal });
  if (r.created) ctx.created.add(r.digest);
  const gguf = await validateGguf(ctx.blobs.path(r.digest));
  return {
    layer: { mediaType: MEDIA_TYPES.model, digest: r.digest, size: r.size },
    status: `${r.created ? 'creating new layer' : 'using existing layer'} ${r.digest}`,
    gguf,
  };
}

/** general.name for a converted model: the model's name without its tag ("team/qwen:7b" → "team/qwen"). */
function title(model: string): string {
  const short = shortModelName(parseModelName(model));
  return short.replace(/:[^:/]*$/, '');
}

/** What to quantize to; see QuantizeOptions. */
export interface QuantizeRequest {
  type: string;
  allowRequantize: boolean;
}

async function quantizeInto(ctx: BuildContext, input: string, quant: QuantizeRequest): Promise<MadeLayer> {
  const tmp = join(ctx.blobs.dir, tempName());
  try {
    await quantizeGguf(input, tmp, { ...quant, signal: ctx.signal, progress: ctx.progress });
    return await store(ctx, tmp);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function convertInto(
  ctx: BuildContext,
  files: CheckpointFiles,
  model: string,
  quant?: QuantizeRequest,
): Promise<MadeLayer> {
  const tmp = join(ctx.blobs.dir, tempName());
  try {
    await convertCheckpoint(files, tmp, { name: title(model), signal: ctx.signal, progress: ctx.progress });
    return quant ? await quantizeInto(ctx, tmp, quant) : await store(ctx, tmp);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** A checkpoint uploaded with POST /api/blobs, named by `files` (upload name → digest). */
export async function uploadedCheckpointLayer(
  ctx: BuildContext,
  files: Record<string, string>,
  model: string,
  quant?: QuantizeRequest,
): Promise<MadeLayer> {
  const paths: CheckpointFiles = new Map();
  for (const [file, raw] of Object.entries(files)) {
    if (!isValidDigest(raw))
      throw new CorralError('bad_request', `'${file}': invalid digest '${raw}'`, 'files');
    const digest = normalizeDigest(raw);
    await ctx.lease.hold(digest);
    if ((await ctx.blobs.size(digest)) === undefined) {
      throw new CorralError(
        'bad_request',
        `'${file}': blob ${digest} has not been uploaded (POST /api/blobs/${digest} first)`,
        'files',
      );
    }
    // Names are only keys here (never paths): the converter looks up the ones it knows.
    paths.set(file, ctx.blobs.path(digest));
  }
  return convertInto(ctx, paths, model, quant);
}

/** A checkpoint directory on the server's disk (legacy Modelfile `FROM ./dir`). */
export async function localCheckpointLayer(
  ctx: BuildContext,
  dir: string,
  model: string,
  quant?: QuantizeRequest,
): Promise<MadeLayer> {
  return convertInto(ctx, await checkpointFromDir(dir), model, quant);
}

/** Quantizes a stored GGUF model blob into a new layer. */
export async function quantizedLayer(
  ctx: BuildContext,
  digest: string,
  quant: QuantizeRequest,
): Promise<MadeLayer> {
  return quantizeInto(ctx, ctx.blobs.path(digest), quant);
}
