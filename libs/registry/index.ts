export { buildScriptedModel, buildTinyLlama, readGguf } from './gguf';
export { type Modelfile, type ResolvedModel } from './types';
export {
  DEFAULT_HOST,
  type ModelName,
  modelNameKey,
  nameFromPathParts,
  parseModelName,
  shortModelName,
} from './names';
export {
  type BlobLease,
  BlobStore,
  type PutResult,
  isNotFound,
  isValidDigest,
  normalizeDigest,
} from './blob-store';
export { MEDIA_TYPES, type StoredManifest, parseManifest } from './manifests';
export { PARAMETER_TYPES, ParameterValueError, parseParameterText } from './parameters';
export { parseModelfile } from './modelfile';
export { ModelRegistry, createRegistry } from './registry.service';
export { type TinyHfFamily, buildTinyHf, checkpointFromDir, convertCheckpoint } from './convert';
export { quantizeGguf } from './quantize';
export { mapStorageErrors, storageError } from './storage-errors';
