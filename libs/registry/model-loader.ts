/**
 * Turns a stored manifest into a ResolvedModel: reads the small layers (template, system, params,
 * messages, license), the config blob and the GGUF header, and derives Ollama's details and
 * capabilities from them.
 */
import * as fs from 'node:fs/promises';
import { CorralError } from '@corral/common';
import type { BlobStore } from './blob-store';
import { normalizeDigest } from './blob-store';
import { validateGguf } from './gguf';
import { MEDIA_TYPES, ModelConfig, StoredManifest } from './manifests';
import { fullModelName, shortModelName } from './names';
import { normalizeStoredParams } from './parameters';
import type { GgufSummary, ResolvedModel } from './types';

type Message = ResolvedModel['messages'][number];

/** Layers read, before the GGUF header is. */
export interface LoadedLayers {
  modelDigest?: string;
  parentModel: string;
  adapters: string[];
  projectors: string[];
  template?: string;
  system?: string;
  parameters: Record<string, unknown>;
  messages: Message[];
  license: string[];
  config?: Partial<ModelConfig>;
  size: number;
}

async function readText(blobs: BlobStore, digest: string): Promise<string> {
  return fs.readFile(blobs.path(digest), 'utf8');
}

async function readJson(blobs: BlobStore, digest: string, what: string, model: string): Promise<unknown> {
  try {
    return JSON.parse(await readText(blobs, digest));
  } catch {
    throw new CorralError(
      'model_load_failed',
      `model '${model}' has an unreadable ${what} layer (${digest})`,
    );
  }
}

export async function loadLayers(blobs: BlobStore, stored: StoredManifest): Promise<LoadedLayers> {
  const shortName = shortModelName(stored.name);
  const out: LoadedLayers = {
    parentModel: '',
    adapters: [],
    projectors: [],
    parameters: {},
    messages: [],
    license: [],
    size: 0,
  };
  for (const layer of stored.manifest.layers) {
    const digest = normalizeDigest(layer.digest);
    out.size += layer.size;
    switch (layer.mediaType) {
      case MEDIA_TYPES.model:
        if (!out.modelDigest) {
          out.modelDigest = digest;
          out.parentModel = layer.from ?? '';
        }
        break;
      case MEDIA_TYPES.adapter:
        out.adapters.push(digest);
        break;
      case MEDIA_TYPES.projector:
        out.projectors.push(digest);
        break;
      case MEDIA_TYPES.template:
      case MEDIA_TYPES.prompt:
        out.template = await readText(blobs, digest);
        break;
      case MEDIA_TYPES.system:
        out.system = await readText(blobs, digest);
        break;
      case MEDIA_TYPES.params:
        out.parameters = normalizeStoredParams(await readJson(blobs, digest, 'params', shortName));
        break;
      case MEDIA_TYPES.messages: {
        const msgs = await readJson(blobs, digest, 'messages', shortName);
        out.messages = Array.isArray(msgs)
          ? msgs
              .filter(
                (m): m is Message =>
                  !!m && typeof m === 'object' && typeof (m as Message).content === 'string',
              )
              .map((m) => ({ role: m.role, content: m.content }))
          : [];
        break;
      }
      case MEDIA_TYPES.license:
        out.license.push(await readText(blobs, digest));
        break;
      default:
        break; // unknown layer kinds (Ollama's newer ones) are carried, not interpreted
    }
  }
  const cfg = stored.manifest.config;
  if (cfg?.digest) {
    out.size += cfg.size ?? 0;
    const json = await readJson(blobs, cfg.digest, 'config', shortName).catch(() => undefined);
    if (json && typeof json === 'object') out.config = json as Partial<ModelConfig>;
  }
  return out;
}

/** Ollama's details block, from the config blob, falling back to the GGUF header. */
export function modelDetails(layers: LoadedLayers, gguf?: GgufSummary): ResolvedModel['details'] {
  const c = layers.config ?? {};
  return {
    parent_model: layers.parentModel,
    format: c.model_format || 'gguf',
    family: c.model_family || gguf?.architecture || '',
    families: c.model_families ?? (gguf ? [gguf.architecture] : null),
    parameter_size: c.model_type || gguf?.parameterSize || '',
    quantization_level: c.file_type || gguf?.fileType || '',
  };
}

/**
 * Ollama's capability rules: embedding models (pooling type set) cannot complete; tools, insert
 * and thinking are read off the prompt template. Without a Modelfile TEMPLATE the GGUF's Jinja
 * chat template is what prompts are built from, so that one is read instead.
 */
export function modelCapabilities(layers: LoadedLayers, gguf: GgufSummary): string[] {
  const caps: string[] = [gguf.isEmbedding ? 'embedding' : 'completion'];
  if (layers.projectors.length) caps.push('vision');
  if (layers.template !== undefined) {
    const t = layers.template;
    if (/\.Tools\b/.test(t)) caps.push('tools');
    if (/\.Suffix\b/.test(t)) caps.push('insert');
    if (/\.Think(ing)?\b|<think>/.test(t)) caps.push('thinking');
  } else if (gguf.chatTemplate) {
    const t = gguf.chatTemplate;
    if (/\btools\b/.test(t)) caps.push('tools');
    if (/\bsuffix\b/.test(t)) caps.push('insert');
    if (/<think>|enable_thinking|reasoning_content/.test(t)) caps.push('thinking');
  }
  return caps;
}

export async function buildResolved(blobs: BlobStore, stored: StoredManifest): Promise<ResolvedModel> {
  const shortName = shortModelName(stored.name);
  const layers = await loadLayers(blobs, stored);
  if (!layers.modelDigest) {
    throw new CorralError('model_load_failed', `model '${shortName}' has no model weights layer`);
  }
  const modelPath = blobs.path(layers.modelDigest);
  if (!(await blobs.has(layers.modelDigest))) {
    throw new CorralError(
      'model_load_failed',
      `model '${shortName}' is missing its weights blob ${layers.modelDigest}`,
    );
  }
  const gguf = await validateGguf(modelPath);
  const resolved: ResolvedModel = {
    name: shortName,
    fullName: fullModelName(stored.name),
    digest: stored.digest,
    modelDigest: layers.modelDigest,
    modelPath,
    adapters: layers.adapters.map((d) => ({ path: blobs.path(d), digest: d })),
    parameters: layers.parameters,
    messages: layers.messages,
    license: layers.license,
    gguf,
    size: layers.size,
    modifiedAt: stored.mtime,
    capabilities: modelCapabilities(layers, gguf),
    details: modelDetails(layers, gguf),
  };
  if (layers.template !== undefined) resolved.template = layers.template;
  if (layers.system !== undefined) resolved.system = layers.system;
  return resolved;
}
