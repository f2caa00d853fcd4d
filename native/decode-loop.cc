// Corral's native decode loop: generates a context's sequences (one batch with every sequence's next
// token per step) on a thread of its own, the way llama-server's loop does, so no JavaScript runs
// between two decodes.
//
// Why (docs/performance.md, "The native decode loop"): driven from JavaScript, every token costs a
// hand-off from the llama.cpp thread to the worker's JS thread and back (wake the event loop, sample,
// queue the next decode, wake the pool thread). On a small model that is 3–15% of a token. Here the
// decode, the sample and the next decode follow each other on one thread; the tokens reach JavaScript
// through a thread-safe function while the next decode already runs.
//
// It works on node-llama-cpp's own objects, so nothing is loaded twice and every other node-llama-cpp
// call keeps working on the same context and sequences:
//   - the context and the sampler are node-llama-cpp's AddonContext and AddonSampler (napi_unwrap);
//   - llama.cpp's functions and AddonSampler's sampling methods are looked up (dlsym) in the very
//     llama-addon.node that node-llama-cpp loaded, found from the sampler's vtable (dladdr);
//   - the llama_context pointer is read from AddonContext, whose field layout is checked before use
//     (the model pointer, n_ctx and n_seq_max must all match what JavaScript knows), so another
//     node-llama-cpp build makes bind() refuse, and Corral keeps its JavaScript loop.
// Sampling is AddonSampler's own code (rebuildChainIfNeeded, sampleAndReleaseLock, acceptToken): the
// same samplers, grammar and repeat-penalty window as node-llama-cpp's sampleToken.

#include <dlfcn.h>
#include <node_api.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "llama.h"

namespace {

#define CHECK_NAPI(call)                                                                            \
  do {                                                                                              \
    if ((call) != napi_ok) {                                                                        \
      napi_throw_error(env, nullptr, "corral native decode: N-API call failed: " #call);            \
      return nullptr;                                                                               \
    }                                                                                               \
  } while (0)

struct Api {
  decltype(&llama_decode) decode = nullptr;
  decltype(&llama_synchronize) synchronize = nullptr;
  decltype(&llama_batch_init) batch_init = nullptr;
  decltype(&llama_batch_free) batch_free = nullptr;
  decltype(&llama_get_logits) get_logits = nullptr;
  decltype(&llama_n_ctx) n_ctx = nullptr;
  decltype(&llama_get_model) get_model = nullptr;
  decltype(&llama_model_get_vocab) model_get_vocab = nullptr;
  decltype(&llama_vocab_is_eog) vocab_is_eog = nullptr;
  // AddonSampler's methods (Itanium C++ ABI: `this` is the first argument).
  void (*rebuild_chain)(void* sampler) = nullptr;
  void (*sample_and_release_lock)(void* sampler, std::mutex&, std::unique_lock<std::mutex>&, llama_context*,
                                  int32_t batch_logit_index, llama_token_data_array&, bool force_grammar) = nullptr;
  void (*accept_token)(void* sampler, llama_token) = nullptr;
};

// One bound context. Owned by the JS object bind() returns.
struct Binding {
  Api api;
  llama_context* ctx = nullptr;
  const llama_vocab* vocab = nullptr;
  std::atomic<bool> interrupt{false};
  std::atomic<bool> running{false};
};

// One sequence of a run.
struct Row {
  void* sampler = nullptr;
  napi_ref sampler_ref = nullptr;
  llama_seq_id seq = 0;
  llama_pos pos = 0;
  llama_token pending = 0;
  int32_t max_tokens = 0;
  int32_t generated = 0;
  llama_pos pos_limit = 0;
  std::vector<llama_token> stop_tokens;  // sorted
  bool done = false;
};

// One run: the thread's inputs and what it hands back to JavaScript.
struct Run {
  Binding* binding = nullptr;
  napi_ref binding_ref = nullptr;
  napi_deferred deferred = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  std::vector<Row> rows;
  std::chrono::steady_clock::time_point deadline;
};

// What the thread sends to JavaScript: a row's sampled token, or the end of the run (decodes and
// rows decoded, or an error).
struct Message {
  enum Kind { Token, Done, Failed } kind;
  int32_t a = 0;  // Token: the row; Done/Failed: decode calls
  int32_t b = 0;  // Token: the token; Done/Failed: rows decoded
  bool row_done = false;  // Token: the row has left the run (this token ended its stream)
  int32_t step = 0;       // Token: the run's decode call this token was sampled after (1, 2, ...)
  std::string error;
};

template <typename F>
bool lookup(void* handle, const char* name, F& out) {
  out = reinterpret_cast<F>(dlsym(handle, name));
  return out != nullptr;
}

std::string load_api(void* handle, Api& api) {
  const char* missing = nullptr;
  if (!lookup(handle, "llama_decode", api.decode)) missing = "llama_decode";
  else if (!lookup(handle, "llama_synchronize", api.synchronize)) missing = "llama_synchronize";
  else if (!lookup(handle, "llama_batch_init", api.batch_init)) missing = "llama_batch_init";
  else if (!lookup(handle, "llama_batch_free", api.batch_free)) missing = "llama_batch_free";
  else if (!lookup(handle, "llama_get_logits", api.get_logits)) missing = "llama_get_logits";
  else if (!lookup(handle, "llama_n_ctx", api.n_ctx)) missing = "llama_n_ctx";
  else if (!lookup(handle, "llama_get_model", api.get_model)) missing = "llama_get_model";
  else if (!lookup(handle, "llama_model_get_vocab", api.model_get_vocab)) missing = "llama_model_get_vocab";
  else if (!lookup(handle, "llama_vocab_is_eog", api.vocab_is_eog)) missing = "llama_vocab_is_eog";
  else if (!lookup(handle, "_ZN12AddonSampler20rebuildChainIfNeededEv", api.rebuild_chain))
    missing = "AddonSampler::rebuildChainIfNeeded";
  else if (!lookup(handle,
                   "_ZN12AddonSampler20sampleAndReleaseLockERSt5mutexRSt11unique_lockIS0_EP13llama_contextiR22llama_"
                   "token_data_arrayb",
                   api.sample_and_release_lock))
    missing = "AddonSampler::sampleAndReleaseLock";
  else if (!lookup(handle, "_ZN12AddonSampler11acceptTokenEi", api.accept_token)) missing = "AddonSampler::acceptToken";
  return missing ? std::string("node-llama-cpp's addon has no ") + missing : std::string();
}

void* unwrap(napi_env env, napi_value object) {
  void* native = nullptr;
  if (napi_unwrap(env, object, &native) != napi_ok) return nullptr;
  return native;
}

napi_value error_string(napi_env env, const std::string& text) {
  napi_value out;
  napi_create_string_utf8(env, text.c_str(), text.size(), &out);
  return out;
}

size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// bind(addonContext, addonModel, addonSampler, contextSize, sequences) -> Binding object, or a string
// saying why this node-llama-cpp build cannot be bound.
napi_value Bind(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 5) return error_string(env, "bind needs a context, a model, a sampler, the context size and sequences");
  void* context = unwrap(env, argv[0]);
  void* model = unwrap(env, argv[1]);
  void* sampler = unwrap(env, argv[2]);
  uint32_t context_size = 0, sequences = 0;
  napi_get_value_uint32(env, argv[3], &context_size);
  napi_get_value_uint32(env, argv[4], &sequences);
  if (!context || !model || !sampler) return error_string(env, "the context, model or sampler is not a wrapped native object");

  // The library that defines AddonSampler's vtable is the llama-addon.node node-llama-cpp loaded.
  Dl_info where{};
  void* vtable = *reinterpret_cast<void**>(sampler);
  if (!dladdr(vtable, &where) || !where.dli_fname) return error_string(env, "cannot find node-llama-cpp's addon");
  void* handle = dlopen(where.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (!handle) return error_string(env, std::string("cannot open ") + where.dli_fname);
  auto binding = new Binding();
  std::string missing = load_api(handle, binding->api);
  dlclose(handle);  // RTLD_NOLOAD took a reference on the already loaded library; node-llama-cpp keeps it loaded
  if (!missing.empty()) {
    delete binding;
    return error_string(env, missing);
  }

  // AddonContext is `ObjectWrap<AddonContext>` followed by `AddonModel* model; llama_context_params
  // context_params; llama_context* ctx`. Find `model` (the size of ObjectWrap depends on the
  // node-addon-api version node-llama-cpp was built with), then check the parameters before reading ctx.
  auto words = reinterpret_cast<void* const*>(context);
  size_t model_at = 0;
  for (size_t i = 1; i < 24; i++) {
    if (words[i] == model) {
      model_at = i * sizeof(void*);
      break;
    }
  }
  if (model_at == 0) {
    delete binding;
    return error_string(env, "AddonContext's layout is not the one this build expects (no model pointer)");
  }
  auto base = reinterpret_cast<const char*>(context);
  size_t params_at = align_up(model_at + sizeof(void*), alignof(llama_context_params));
  llama_context_params params;
  std::memcpy(&params, base + params_at, sizeof params);
  size_t ctx_at = align_up(params_at + sizeof(llama_context_params), alignof(llama_context*));
  llama_context* ctx = nullptr;
  std::memcpy(&ctx, base + ctx_at, sizeof ctx);
  if (params.n_seq_max != sequences || ctx == nullptr ||
      (params.n_ctx != 0 && params.n_ctx != context_size && params.n_ctx / std::max(1u, sequences) != context_size)) {
    delete binding;
    return error_string(env, "AddonContext's layout is not the one this build expects (context parameters)");
  }
  if (binding->api.n_ctx(ctx) < context_size) {
    delete binding;
    return error_string(env, "the llama.cpp context is smaller than node-llama-cpp reports");
  }
  binding->ctx = ctx;
  binding->vocab = binding->api.model_get_vocab(binding->api.get_model(ctx));

  napi_value out;
  CHECK_NAPI(napi_create_object(env, &out));
  CHECK_NAPI(napi_wrap(
      env, out, binding,
      [](napi_env, void* data, void*) { delete static_cast<Binding*>(data); }, nullptr, nullptr));
  return out;
}

void call_js(napi_env env, napi_value on_token, void* context, void* data) {
  auto run = static_cast<Run*>(context);
  auto message = static_cast<Message*>(data);
  if (env != nullptr) {
    if (message->kind == Message::Token) {
      napi_value args[4], undefined;
      napi_create_int32(env, message->a, &args[0]);
      napi_create_int32(env, message->b, &args[1]);
      napi_get_boolean(env, message->row_done, &args[2]);
      napi_create_int32(env, message->step, &args[3]);
      napi_get_undefined(env, &undefined);
      napi_call_function(env, undefined, on_token, 4, args, nullptr);
      // An exception thrown by onToken is the caller's bug; keep it from killing the process later.
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
    } else {
      run->binding->running = false;
      if (message->kind == Message::Done) {
        napi_value counts, steps, rows;
        napi_create_array_with_length(env, 2, &counts);
        napi_create_int32(env, message->a, &steps);
        napi_create_int32(env, message->b, &rows);
        napi_set_element(env, counts, 0, steps);
        napi_set_element(env, counts, 1, rows);
        napi_resolve_deferred(env, run->deferred, counts);
      } else {
        napi_value text, error;
        napi_create_string_utf8(env, message->error.c_str(), message->error.size(), &text);
        napi_create_error(env, nullptr, text, &error);
        napi_reject_deferred(env, run->deferred, error);
      }
      run->deferred = nullptr;
      napi_delete_reference(env, run->binding_ref);
      for (Row& row : run->rows) napi_delete_reference(env, row.sampler_ref);
    }
  }
  delete message;
}

void send(Run* run, Message* message) {
  napi_call_threadsafe_function(run->tsfn, message, napi_tsfn_blocking);
}

// The loop itself, as llama-server's: one batch with the pending token of every row, one decode, then
// each row sampled from its logits, its token handed over, and the row goes on with it unless the
// token ends its stream (handed over, never decoded; the row leaves the batch). The run ends when no
// row is left, or after a step once JavaScript asked it to stop (a new sequence arrived, a consumer
// left, the context lock is wanted) or the time budget is spent; rows still going then wait with their
// last token sampled, not decoded, for JavaScript's next step.
void steps_until_done(Run* run, llama_batch& batch, int32_t& steps, int32_t& decoded, std::string& error);

void generate(Run* run) {
  const int32_t capacity = static_cast<int32_t>(run->rows.size());
  llama_batch batch = run->binding->api.batch_init(capacity, 0, 1);
  int32_t steps = 0, decoded = 0;
  std::string error;
  // llama.cpp and the samplers report some failures by throwing (a grammar that cannot accept a token);
  // the stream fails with the message, as node-llama-cpp's own sampleToken does, and the worker lives.
  try {
    steps_until_done(run, batch, steps, decoded, error);
  } catch (const std::exception& e) {
    error = std::string("llama.cpp failed: ") + e.what();
  } catch (...) {
    error = "llama.cpp failed with an unknown error";
  }
  run->binding->api.batch_free(batch);
  if (error.empty()) send(run, new Message{Message::Done, steps, decoded, false, 0, {}});
  else send(run, new Message{Message::Failed, steps, decoded, false, 0, error});
  napi_release_threadsafe_function(run->tsfn, napi_tsfn_release);
}

void steps_until_done(Run* run, llama_batch& batch, int32_t& steps, int32_t& decoded, std::string& error) {
  Binding& b = *run->binding;
  const Api& api = b.api;
  std::vector<Row*> live;
  for (Row& row : run->rows) live.push_back(&row);
  while (!live.empty()) {
    batch.n_tokens = static_cast<int32_t>(live.size());
    for (int32_t i = 0; i < batch.n_tokens; i++) {
      Row& row = *live[i];
      batch.token[i] = row.pending;
      batch.pos[i] = row.pos;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = row.seq;
      batch.logits[i] = 1;
    }
    int r = api.decode(b.ctx, batch);
    if (r != 0) {
      error = r == 1 ? "could not find a KV slot for the batch (try reducing the size of the batch or increase the context)"
                     : "Eval has failed";
      break;
    }
    api.synchronize(b.ctx);
    steps += 1;
    decoded += batch.n_tokens;
    if (api.get_logits(b.ctx) == nullptr) {
      error = "This model does not support token generation";
      break;
    }
    for (int32_t i = 0; i < batch.n_tokens && error.empty(); i++) {
      Row& row = *live[i];
      row.pos += 1;
      api.rebuild_chain(row.sampler);
      std::mutex sampling;
      std::unique_lock<std::mutex> lock(sampling);
      llama_token_data_array candidates{};
      api.sample_and_release_lock(row.sampler, sampling, lock, b.ctx, i, candidates, false);
      if (candidates.size == 0 || candidates.selected < 0 || candidates.selected >= (int64_t)candidates.size) {
        error = "llama.cpp failed to sample the next token";
        break;
      }
      llama_token token = candidates.data[candidates.selected].id;
      api.accept_token(row.sampler, token);
      row.generated += 1;
      row.done = api.vocab_is_eog(b.vocab, token) ||
                 std::binary_search(row.stop_tokens.begin(), row.stop_tokens.end(), token) ||
                 row.generated >= row.max_tokens || row.pos + 1 > row.pos_limit;
      row.pending = token;
      send(run, new Message{Message::Token, static_cast<int32_t>(&row - run->rows.data()), token, row.done, steps, {}});
    }
    if (!error.empty()) break;
    live.erase(std::remove_if(live.begin(), live.end(), [](Row* row) { return row->done; }), live.end());
    if (b.interrupt.load(std::memory_order_acquire) || std::chrono::steady_clock::now() >= run->deadline) break;
  }
}

bool get_int(napi_env env, napi_value object, const char* name, int32_t& out) {
  napi_value value;
  return napi_get_named_property(env, object, name, &value) == napi_ok &&
         napi_get_value_int32(env, value, &out) == napi_ok;
}

// run(binding, rows: {sampler, sequenceId, position, token, maxTokens, positionLimit, stopTokens:
//     Int32Array}[], budgetMs, onToken(row, token, rowDone, step)) -> Promise<[decode calls, rows decoded]>
napi_value RunLoop(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Binding* binding = argc == 4 ? static_cast<Binding*>(unwrap(env, argv[0])) : nullptr;
  uint32_t count = 0;
  bool is_array = false;
  if (!binding || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok || count == 0) {
    napi_throw_type_error(env, nullptr, "run needs a bound context, rows, a budget and a callback");
    return nullptr;
  }
  auto run = new Run();
  run->binding = binding;
  run->rows.resize(count);
  for (uint32_t i = 0; i < count; i++) {
    Row& row = run->rows[i];
    napi_value item, sampler, stops;
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    int32_t seq = 0, pos = 0, token = 0, limit = 0;
    bool ok = napi_get_element(env, argv[1], i, &item) == napi_ok &&
              napi_get_named_property(env, item, "sampler", &sampler) == napi_ok &&
              (row.sampler = unwrap(env, sampler)) != nullptr && get_int(env, item, "sequenceId", seq) &&
              get_int(env, item, "position", pos) && get_int(env, item, "token", token) &&
              get_int(env, item, "maxTokens", row.max_tokens) && get_int(env, item, "positionLimit", limit) &&
              napi_get_named_property(env, item, "stopTokens", &stops) == napi_ok &&
              napi_get_typedarray_info(env, stops, &type, &length, &data, nullptr, nullptr) == napi_ok &&
              type == napi_int32_array;
    if (!ok) {
      for (uint32_t j = 0; j < i; j++) napi_delete_reference(env, run->rows[j].sampler_ref);
      delete run;
      napi_throw_type_error(env, nullptr, "a run row needs a sampler, its positions, token, limits and stopTokens");
      return nullptr;
    }
    row.seq = seq;
    row.pos = pos;
    row.pending = token;
    row.pos_limit = limit;
    row.stop_tokens.assign(static_cast<int32_t*>(data), static_cast<int32_t*>(data) + length);
    std::sort(row.stop_tokens.begin(), row.stop_tokens.end());
    CHECK_NAPI(napi_create_reference(env, sampler, 1, &row.sampler_ref));
  }
  double budget_ms = 0;
  napi_get_value_double(env, argv[2], &budget_ms);
  run->deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(static_cast<int64_t>(budget_ms * 1000));
  if (binding->running.exchange(true)) {
    for (Row& row : run->rows) napi_delete_reference(env, row.sampler_ref);
    delete run;
    napi_throw_error(env, nullptr, "a native run is already going on this context");
    return nullptr;
  }
  binding->interrupt = false;

  napi_value promise, name;
  CHECK_NAPI(napi_create_promise(env, &run->deferred, &promise));
  CHECK_NAPI(napi_create_reference(env, argv[0], 1, &run->binding_ref));
  CHECK_NAPI(napi_create_string_utf8(env, "corral-native-decode", NAPI_AUTO_LENGTH, &name));
  CHECK_NAPI(napi_create_threadsafe_function(
      env, argv[3], nullptr, name, 0, 1, run, [](napi_env, void* data, void*) { delete static_cast<Run*>(data); }, run,
      call_js, &run->tsfn));
  std::thread(generate, run).detach();
  return promise;
}

// interrupt(binding): the running loop stops after the step it is on (its tokens are handed over, not decoded).
napi_value Interrupt(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  Binding* binding = argc > 0 ? static_cast<Binding*>(unwrap(env, argv[0])) : nullptr;
  if (binding) binding->interrupt.store(true, std::memory_order_release);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bind", nullptr, Bind, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"run", nullptr, RunLoop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"interrupt", nullptr, Interrupt, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, 3, props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
