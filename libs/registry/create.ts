/**
 * Builds the layers and config of a new model (Ollama's CreateHandler/createModel). Nothing here
 * writes a manifest: the caller writes it once every layer is stored, validated and leased, and
 * removes the blobs this build created if anything fails.
 */
import { readFile } from 'node:fs/promises';
import { CorralError } from '@corral/common';
import type { BlobLease, BlobStore, PutResult } from './blob-store';
import { isValidDigest, normalizeDigest } from './blob-store';
import { isCheckpoint } from './convert/convert';
import { localCheckpointLayer, quantizedLayer, uploadedCheckpointLayer } from './convert/create-layers';
import type { CreatePlan } from './create-request';
import { validateGguf } from './gguf';
import { goJson, ManifestLayer, ManifestStore, MEDIA_TYPES, ModelConfig } from './manifests';
import { parseModelName, shortModelName } from './names';
import { normalizeStoredParams } from './parameters';
import type { GgufSummary } from './types';

export interface BuildContext {
  blobs: BlobStore;
  manifests: ManifestStore;
  lease: BlobLease;
  progress: (status: string) => void;
  signal?: AbortSignal;
  /** Digests whose blob this build stored for the first time (to undo on failure). */
  created: Set<string>;
}

interface PlannedLayer {
  layer: ManifestLayer;
  status: string;
  gguf?: GgufSummary;
}

export interface BuiltModel {
  layers: ManifestLayer[];
  config: ModelConfig;
  statuses: string[];
  /** Blobs this build stored but the model does not use (an unquantized copy); collected after the manifest is written. */
  discard: string[];
}

function record(ctx: BuildContext, r: PutResult): string {
  if (r.created) ctx.created.add(r.digest);
  return `${r.created ? 'creating new layer' : 'using existing layer'} ${r.digest}`;
}

/** Leases a blob that must already be there (uploaded, or a base model's layer). */
async function holdExisting(ctx: BuildContext, digest: string, missing: () => CorralError): Promise<number> {
  await ctx.lease.hold(digest);
  const size = await ctx.blobs.size(digest);
  if (size === undefined) throw missing();
  return size;
}

function mediaTypeFor(summary: GgufSummary, wantAdapter: boolean, file: string): string {
  const isAdapter = summary.type === 'adapter';
  if (wantAdapter && !isAdapter) {
    throw new CorralError(
      'bad_request',
      `adapter '${file}' is not a LoRA adapter (general.type is '${summary.type}')`,
      'adapters',
    );
  }
  if (!wantAdapter && isAdapter) {
    throw new CorralError(
      'bad_request',
      `'${file}' is a LoRA adapter; pass it in 'adapters' with a base model`,
      'files',
    );
  }
  return isAdapter ? MEDIA_TYPES.adapter : MEDIA_TYPES.model;
}

function checkFileName(file: string, field: 'files' | 'adapters'): void {
  if (file.endsWith('.safetensors')) {
    throw new CorralError('unsupported', `'${file}': importing Safetensors is not supported yet`, field);
  }
  if (!file.endsWith('.gguf') && !file.endsWith('.bin')) {
    throw new CorralError('bad_request', `'${file}': unknown file type; expected a .gguf file`, field);
  }
}

/** GGUF blobs named by digest in `files` / `adapters` (uploaded with POST /api/blobs). */
async function uploadedGguf(
  ctx: BuildContext,
  files: Record<string, string>,
  field: 'files' | 'adapters',
): Promise<PlannedLayer[]> {
  const out: PlannedLayer[] = [];
  for (const [file, rawDigest] of Object.entries(files)) {
    checkFileName(file, field);
    if (!isValidDigest(rawDigest)) {
      throw new CorralError('bad_request', `'${file}': invalid digest '${rawDigest}'`, field);
    }
    const digest = normalizeDigest(rawDigest);
    const size = await holdExisting(
      ctx,
      digest,
      () =>
        new CorralError(
          'bad_request',
          `'${file}': blob ${digest} has not been uploaded (POST /api/blobs/${digest} first)`,
          field,
        ),
    );
    ctx.progress('parsing GGUF');
    const gguf = await validateGguf(ctx.blobs.path(digest));
    const mediaType = mediaTypeFor(gguf, field === 'adapters', file);
    out.push({ layer: { mediaType, digest, size }, status: `using existing layer ${digest}`, gguf });
  }
  return out;
}

/** GGUF files on this machine (legacy Modelfile FROM/ADAPTER paths): copied in, then validated. */
async function localGguf(ctx: BuildContext, files: string[], adapter: boolean): Promise<PlannedLayer[]> {
  const out: PlannedLayer[] = [];
  for (const file of files) {
    ctx.progress('parsing GGUF');
    const r = await ctx.blobs.putFile(file, { lease: ctx.lease, signal: ctx.signal });
    const status = record(ctx, r);
    const gguf = await validateGguf(ctx.blobs.path(r.digest));
    const mediaType = mediaTypeFor(gguf, adapter, file);
    out.push({ layer: { mediaType, digest: r.digest, size: r.size }, status, gguf });
  }
  return out;
}

/** A base model's layers, each leased so a concurrent delete cannot collect it. */
async function baseModelLayers(ctx: BuildContext, from: string): Promise<PlannedLayer[]> {
  const stored = await ctx.manifests.read(parseModelName(from));
  if (!stored) throw new CorralError('model_not_found', `model '${from}' not found`, 'from');
  const parent = shortModelName(stored.name);
  const out: PlannedLayer[] = [];
  for (const l of stored.manifest.layers) {
    const digest = normalizeDigest(l.digest);
    await holdExisting(
      ctx,
      digest,
      () => new CorralError('model_load_failed', `model '${from}' is missing blob ${digest}`),
    );
    const planned: PlannedLayer = {
      layer: { mediaType: l.mediaType, digest, size: l.size, from: l.from ?? parent },
      status: `using existing layer ${digest}`,
    };
    if (
      l.mediaType === MEDIA_TYPES.model ||
      l.mediaType === MEDIA_TYPES.adapter ||
      l.mediaType === MEDIA_TYPES.projector
    ) {
      ctx.progress('parsing GGUF');
      planned.gguf = await validateGguf(ctx.blobs.path(digest));
    }
    out.push(planned);
  }
  return out;
}

async function textLayer(ctx: BuildContext, mediaType: string, content: string): Promise<PlannedLayer> {
  const r = await ctx.blobs.putBytes(content, { lease: ctx.lease, signal: ctx.signal });
  return { layer: { mediaType, digest: r.digest, size: r.size }, status: record(ctx, r) };
}

/** Replaces every layer of `mediaType` with `next` (appended last, as Ollama orders them). */
function replace(layers: PlannedLayer[], mediaType: string, next: PlannedLayer[]): PlannedLayer[] {
  return [...layers.filter((l) => l.layer.mediaType !== mediaType), ...next];
}

async function readParams(ctx: BuildContext, layers: PlannedLayer[]): Promise<Record<string, unknown>> {
  const p = layers.find((l) => l.layer.mediaType === MEDIA_TYPES.params);
  if (!p) return {};
  try {
    return normalizeStoredParams(JSON.parse(await readFile(ctx.blobs.path(p.layer.digest), 'utf8')));
  } catch {
    throw new CorralError(
      'model_load_failed',
      `base model has an unreadable params layer (${p.layer.digest})`,
    );
  }
}

export async function buildModel(ctx: BuildContext, plan: CreatePlan): Promise<BuiltModel> {
  let layers: PlannedLayer[];
  // A converted checkpoint is quantized before it is stored, so no unquantized copy is left over.
  const quant = plan.quantize
    ? { type: plan.quantize, allowRequantize: plan.allowRequantize ?? false }
    : undefined;
  let quantized = false;
  const discard: string[] = [];
  if (plan.from) layers = await baseModelLayers(ctx, plan.from);
  else if (plan.files && isCheckpoint(Object.keys(plan.files))) {
    layers = [await uploadedCheckpointLayer(ctx, plan.files, plan.model, quant)];
    quantized = true;
  } else if (plan.files && Object.keys(plan.files).length)
    layers = await uploadedGguf(ctx, plan.files, 'files');
  else if (plan.localFiles?.length) layers = await localGguf(ctx, plan.localFiles, false);
  else if (plan.localCheckpoint) {
    layers = [await localCheckpointLayer(ctx, plan.localCheckpoint, plan.model, quant)];
    quantized = true;
  } else throw new CorralError('bad_request', "neither 'from' or 'files' was specified");
  ctx.signal?.throwIfAborted();

  if (plan.adapters && Object.keys(plan.adapters).length)
    layers.push(...(await uploadedGguf(ctx, plan.adapters, 'adapters')));
  if (plan.localAdapters?.length) layers.push(...(await localGguf(ctx, plan.localAdapters, true)));
  if (!layers.some((l) => l.layer.mediaType === MEDIA_TYPES.model)) {
    throw new CorralError('bad_request', 'no model weights: the files given hold only adapters');
  }
  if (quant && !quantized) {
    // Quantization (libs/registry/quantize) replaces the model layer in place, keeping its order.
    const i = layers.findIndex((l) => l.layer.mediaType === MEDIA_TYPES.model);
    const source = layers[i]!.layer.digest;
    layers[i] = await quantizedLayer(ctx, source, quant);
    if (ctx.created.has(source)) discard.push(source);
  }

  if (plan.template) {
    const withoutLegacy = layers.filter((l) => l.layer.mediaType !== MEDIA_TYPES.prompt);
    layers = replace(withoutLegacy, MEDIA_TYPES.template, [
      await textLayer(ctx, MEDIA_TYPES.template, plan.template),
    ]);
  }
  if (plan.system !== undefined) {
    layers = replace(
      layers,
      MEDIA_TYPES.system,
      plan.system ? [await textLayer(ctx, MEDIA_TYPES.system, plan.system)] : [],
    );
  }
  if (plan.license) {
    const next: PlannedLayer[] = [];
    for (const l of plan.license) if (l) next.push(await textLayer(ctx, MEDIA_TYPES.license, l));
    layers = replace(layers, MEDIA_TYPES.license, next);
  }
  if (plan.parameters && Object.keys(plan.parameters).length) {
    // Ollama merges per key, so `FROM base` + one PARAMETER keeps the base's stop words.
    const merged = { ...(await readParams(ctx, layers)), ...plan.parameters };
    const sorted = Object.fromEntries(
      Object.keys(merged)
        .sort()
        .map((k) => [k, merged[k]]),
    );
    layers = replace(layers, MEDIA_TYPES.params, [await textLayer(ctx, MEDIA_TYPES.params, goJson(sorted))]);
  }
  if (plan.messages?.length) {
    const msgs = plan.messages.map((m) => ({ role: m.role, content: m.content }));
    layers = replace(layers, MEDIA_TYPES.messages, [
      await textLayer(ctx, MEDIA_TYPES.messages, goJson(msgs)),
    ]);
  }
  ctx.signal?.throwIfAborted();

  const ggufs = layers.filter((l) => l.gguf).map((l) => l.gguf as GgufSummary);
  const main = layers.find((l) => l.layer.mediaType === MEDIA_TYPES.model)?.gguf;
  const config: ModelConfig = {
    model_format: 'gguf',
    model_family: main?.architecture ?? '',
    model_families: ggufs.map((g) => g.architecture),
    model_type: main?.parameterSize ?? '',
    file_type: main?.fileType ?? '',
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.layer.digest) },
  };
  return { layers: layers.map((l) => l.layer), config, statuses: layers.map((l) => l.status), discard };
}
