export {
  convertCheckpoint,
  planConversion,
  checkpointFromDir,
  isCheckpoint,
  type CheckpointFiles,
  type ConversionPlan,
  type ConvertOptions,
} from './convert';
export { SUPPORTED_ARCHITECTURES, type GgufArch } from './architectures';
export {
  readSafetensorsHeader,
  readTensorBytes,
  toFloat32,
  type SafetensorsTensor,
  type SafetensorsDtype,
} from './safetensors';
export { writeGgufStream, type StreamTensor } from './gguf-stream';
export {
  buildTinyHf,
  writeSafetensors,
  type TinyHfOptions,
  type TinyHfFamily,
  type TinyHfCheckpoint,
} from './tiny-hf';
