/**
 * Names llama.cpp knows: model architectures (src/llama-arch.cpp, LLM_ARCH_NAMES) and file types
 * (include/llama.h, llama_ftype), from the llama.cpp release bundled with node-llama-cpp.
 */

// prettier-ignore
export const LLAMA_ARCHITECTURES: ReadonlySet<string> = new Set([
  'clip', 'llama', 'llama4', 'deci', 'falcon', 'grok', 'gpt2', 'gptj', 'gptneox', 'mpt', 'baichuan',
  'starcoder', 'refact', 'bert', 'modern-bert', 'nomic-bert', 'nomic-bert-moe', 'neo-bert', 'jina-bert-v2',
  'jina-bert-v3', 'eurobert', 'bloom', 'stablelm', 'qwen', 'qwen2', 'qwen2moe', 'qwen2vl', 'qwen3',
  'qwen3moe', 'qwen3next', 'qwen3vl', 'qwen3vlmoe', 'qwen35', 'qwen35moe', 'qwen4exp', 'phi2', 'phi3',
  'phimoe', 'plamo', 'plamo2', 'plamo3', 'codeshell', 'orion', 'internlm2', 'minicpm', 'minicpm3', 'gemma',
  'gemma2', 'gemma3', 'gemma3n', 'gemma4', 'gemma4-assistant', 'gemma-embedding', 'starcoder2', 'mamba',
  'mamba2', 'maple', 'jamba', 'falcon-h1', 'xverse', 'command-r', 'cohere2', 'cohere2moe', 'dbrx', 'olmo',
  'olmo2', 'olmoe', 'muse-glimmer', 'openelm', 'arctic', 'deepseek', 'deepseek2', 'deepseek2-ocr',
  'deepseek32', 'deepseek4', 'chatglm', 'glm4', 'glm4moe', 'glm-dsa', 'bitnet', 't5', 't5encoder', 'jais',
  'jais2', 'nemotron', 'nemotron_h', 'nemotron_h_moe', 'exaone', 'exaone4', 'exaone-moe', 'rwkv6',
  'rwkv6qwen2', 'rwkv7', 'arwkv7', 'granite', 'granitemoe', 'granitehybrid', 'graniteswitch',
  'granite_swa', 'chameleon', 'wavtokenizer-dec', 'plm', 'bailingmoe', 'bailingmoe2', 'bailingmoe3',
  'dots1', 'dots3note', 'arcee', 'afmoe', 'laguna', 'ernie4_5', 'ernie4_5-moe', 'hunyuan-moe',
  'hunyuan-dense', 'hunyuan_vl', 'hy_v3', 'hy_v4', 'smollm3', 'gpt-oss', 'lfm2', 'lfm2moe', 'dream',
  'smallthinker', 'llada', 'llada-moe', 'seed_oss', 'grovemoe', 'apertus', 'minimax-01', 'hrm_text',
  'minimax-m2', 'minimax-m3', 'cogvlm', 'rnd1', 'pangu-embedded', 'mistral3', 'eagle3', 'dflash',
  'mistral4', 'paddleocr', 'mimo2', 'step35', 'spark2_5', 'llama-embed', 'maincoder', 'kimi-linear',
  'kimi-k3', 'talkie', 'mellum', 'nanbeige', 'qwen3tts', 'pockettts',
]);

/** Encoder-only architectures: they produce embeddings, never text. */
// prettier-ignore
export const EMBEDDING_ARCHITECTURES: ReadonlySet<string> = new Set([
  'bert', 'modern-bert', 'nomic-bert', 'nomic-bert-moe', 'neo-bert', 'jina-bert-v2', 'jina-bert-v3',
  'eurobert', 't5encoder', 'gemma-embedding', 'llama-embed',
]);

/**
 * llama_ftype values by id, named as Ollama names them (llama.cpp's enum name without
 * ALL_/MOSTLY_). MXFP4_MOE is shown as MXFP4, like Ollama does.
 */
// prettier-ignore
export const FILE_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'F32'], [1, 'F16'], [2, 'Q4_0'], [3, 'Q4_1'], [7, 'Q8_0'], [8, 'Q5_0'], [9, 'Q5_1'], [10, 'Q2_K'],
  [11, 'Q3_K_S'], [12, 'Q3_K_M'], [13, 'Q3_K_L'], [14, 'Q4_K_S'], [15, 'Q4_K_M'], [16, 'Q5_K_S'],
  [17, 'Q5_K_M'], [18, 'Q6_K'], [19, 'IQ2_XXS'], [20, 'IQ2_XS'], [21, 'Q2_K_S'], [22, 'IQ3_XS'],
  [23, 'IQ3_XXS'], [24, 'IQ1_S'], [25, 'IQ4_NL'], [26, 'IQ3_S'], [27, 'IQ3_M'], [28, 'IQ2_S'],
  [29, 'IQ2_M'], [30, 'IQ4_XS'], [31, 'IQ1_M'], [32, 'BF16'], [36, 'TQ1_0'], [37, 'TQ2_0'], [38, 'MXFP4'],
  [39, 'NVFP4'], [40, 'Q1_0'], [41, 'Q2_0'],
]);

/**
 * The file type llama.cpp guesses from the most common tensor type when general.file_type is
 * absent (llama_model_loader): K-quants guess their _M mix.
 */
// prettier-ignore
export const FILE_TYPE_FROM_TENSOR_TYPE: ReadonlyMap<string, string> = new Map([
  ['F32', 'F32'], ['F16', 'F16'], ['BF16', 'BF16'], ['Q4_0', 'Q4_0'], ['Q4_1', 'Q4_1'], ['Q5_0', 'Q5_0'],
  ['Q5_1', 'Q5_1'], ['Q8_0', 'Q8_0'], ['Q2_K', 'Q2_K'], ['Q3_K', 'Q3_K_M'], ['Q4_K', 'Q4_K_M'],
  ['Q5_K', 'Q5_K_M'], ['Q6_K', 'Q6_K'], ['TQ1_0', 'TQ1_0'], ['TQ2_0', 'TQ2_0'], ['IQ2_XXS', 'IQ2_XXS'],
  ['IQ2_XS', 'IQ2_XS'], ['IQ2_S', 'IQ2_S'], ['IQ3_XXS', 'IQ3_XXS'], ['IQ1_S', 'IQ1_S'], ['IQ1_M', 'IQ1_M'],
  ['IQ4_NL', 'IQ4_NL'], ['IQ4_XS', 'IQ4_XS'], ['IQ3_S', 'IQ3_S'], ['NVFP4', 'NVFP4'], ['Q1_0', 'Q1_0'],
  ['Q2_0', 'Q2_0'], ['MXFP4', 'MXFP4'],
]);
