export { readGguf, GGUF_LIMITS, type GgufFile, type GgufTensorInfo, type GgufMetadataType } from './reader';
export { validateGguf, summarizeGguf, formatParameterSize, fileTypeName } from './summary';
export {
  writeGguf,
  kv,
  toFloat16Bits,
  type GgufKV,
  type GgufWriteOptions,
  type GgufWriteTensor,
} from './writer';
export {
  buildTinyLlama,
  buildScriptedModel,
  type TinyModelOptions,
  type TinyLlamaOptions,
  type ScriptedModelOptions,
} from './tiny';
export {
  GGML_TYPES,
  GGML_TYPE_BY_NAME,
  type GgmlTypeInfo,
  type GgufValueType,
  type GgufScalarType,
} from './ggml-types';
export { LLAMA_ARCHITECTURES, EMBEDDING_ARCHITECTURES, FILE_TYPE_NAMES } from './llama-names';
