export { nativeDecodeAddon, nativeDecodeLoadError } from './native-decode';
export { WorkerHost, type WorkerHostOptions } from './host';
export { chooseThreads, parseGpuChoice, parseThreads, type GpuChoice } from './hardware';
export { StopStringFilter } from './stop-strings';
export { l2Normalize } from './embeddings';
export { normalizeJsonSchema } from './json-schema';
