/**
 * The quantizer child process, as source for `node -e`: it runs from the compiled tree and from
 * the TypeScript sources under Jest alike, and keeps llama.cpp (which aborts the process on some
 * bad inputs) out of the gateway. argv: koffi path, libllama path, input, output, ftype,
 * allow_requantize (0/1), threads. Exit code: llama_model_quantize's result (0 = success).
 *
 * The struct mirrors `llama_model_quantize_params` in include/llama.h of llama.cpp as bundled with
 * node-llama-cpp 3.22 (release v0.5.0). Koffi lays it out with the C ABI's alignment rules, and
 * the defaults come from `llama_model_quantize_default_params`, so only the fields set here change.
 */
export const QUANTIZE_CHILD_SOURCE = `
const [koffiPath, libPath, input, output, ftype, allowRequantize, threads] = process.argv.slice(1);
const koffi = require(koffiPath);
const lib = koffi.load(libPath);
koffi.struct('llama_model_quantize_params', {
  nthread: 'int32_t',
  ftype: 'int32_t',
  output_tensor_type: 'int32_t',
  token_embedding_type: 'int32_t',
  allow_requantize: 'bool',
  quantize_output_tensor: 'bool',
  only_copy: 'bool',
  pure: 'bool',
  keep_split: 'bool',
  dry_run: 'bool',
  imatrix: 'void *',
  kv_overrides: 'void *',
  tt_overrides: 'void *',
  prune_layers: 'void *',
  max_buf_size: 'size_t',
});
const defaults = lib.func('llama_model_quantize_params llama_model_quantize_default_params(void)');
const quantize = lib.func('uint32_t llama_model_quantize(const char *inp, const char *out, const llama_model_quantize_params *params)');
const backendInit = lib.func('void llama_backend_init(void)');
backendInit();
const params = defaults();
params.nthread = Number(threads);
params.ftype = Number(ftype);
params.allow_requantize = allowRequantize === '1';
const rc = quantize(input, output, params);
process.exitCode = rc;
`;
