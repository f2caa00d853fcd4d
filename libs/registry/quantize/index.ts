export { quantizeGguf, describeWeights, findLibllama, type QuantizeOptions } from './quantize';
export { QUANTIZATION_TYPES, parseQuantizationType, type QuantizationType } from './types';
