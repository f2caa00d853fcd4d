/**
 * Quantization types Corral offers, as llama.cpp's `enum llama_ftype` numbers them (llama.h of
 * the llama.cpp release bundled with node-llama-cpp).
 */
import { CorralError } from '@corral/common';

export const QUANTIZATION_TYPES = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 7,
  Q5_0: 8,
  Q5_1: 9,
  Q2_K: 10,
  Q3_K_S: 11,
  Q3_K_M: 12,
  Q3_K_L: 13,
  Q4_K_S: 14,
  Q4_K_M: 15,
  Q5_K_S: 16,
  Q5_K_M: 17,
  Q6_K: 18,
  BF16: 32,
} as const;

export type QuantizationType = keyof typeof QUANTIZATION_TYPES;

/** Parses `q4_K_M`, `Q4_K_M`, `q4_k_m`, ... (Ollama accepts any case). */
export function parseQuantizationType(raw: string): QuantizationType {
  const t = raw.trim().toUpperCase();
  if (t in QUANTIZATION_TYPES) return t as QuantizationType;
  throw new CorralError(
    'bad_request',
    `unsupported quantization type '${raw}'; supported: ${Object.keys(QUANTIZATION_TYPES).join(', ')}`,
    'quantize',
  );
}
