// dengine_kv_encode_* / dengine_kv_decode_*: the built-in KV machines'
// codec (sm/kv_command.h) over the C ABI.
#include <optional>
#include <string>
#include <vector>

#include "capi/errors.h"
#include "capi/handles.h"
#include "capi/memory.h"
#include "sm/kv_command.h"
#include "storage/status.h"

using dengine::capi::bytes_of;
using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::sm::KvCommand;
using dengine::sm::KvRead;

namespace {

// Hands `bytes` to the caller as a malloc'd buffer.
int hand_out(const std::string& bytes, uint8_t** out, size_t* out_len) {
  *out = dengine::capi::malloc_value(bytes);
  *out_len = bytes.size();
  return DENGINE_OK;
}

// The checks every encoder shares: somewhere to put the bytes, and (when
// `key_len` is given) a key.
bool bad_output(const char* function, uint8_t** out, size_t* out_len) {
  if (out != nullptr && out_len != nullptr) {
    *out = nullptr;
    *out_len = 0;
    return false;
  }
  fail(DENGINE_ERR_INVALID_ARGUMENT,
       std::string(function) + ": out and out_len must not be NULL");
  return true;
}

bool bad_key(const char* function, const void* key, size_t key_len) {
  if (key != nullptr && key_len > 0) return false;
  fail(DENGINE_ERR_INVALID_ARGUMENT, std::string(function) + ": empty key");
  return true;
}

bool bad_bytes(const char* function, const char* what, const void* data,
               size_t len) {
  if (data != nullptr || len == 0) return false;
  fail(DENGINE_ERR_INVALID_ARGUMENT, std::string(function) + ": " + what +
                                         " is NULL but its length is not 0");
  return true;
}

}  // namespace

extern "C" {

int dengine_kv_encode_put(const void* key, size_t key_len, const void* value,
                          size_t value_len, uint64_t ttl_ms, uint8_t** out,
                          size_t* out_len) {
  constexpr const char* kFunction = "dengine_kv_encode_put";
  return guarded(kFunction, [&]() -> int {
    if (bad_output(kFunction, out, out_len) ||
        bad_key(kFunction, key, key_len) ||
        bad_bytes(kFunction, "value", value, value_len)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    std::string k = bytes_of(key, key_len);
    std::string v = bytes_of(value, value_len);
    const KvCommand command =
        ttl_ms == 0
            ? KvCommand::put(std::move(k), std::move(v))
            : KvCommand::put_with_ttl(std::move(k), std::move(v), ttl_ms);
    return hand_out(dengine::sm::encode_command(command), out, out_len);
  });
}

int dengine_kv_encode_delete(const void* key, size_t key_len, uint8_t** out,
                             size_t* out_len) {
  constexpr const char* kFunction = "dengine_kv_encode_delete";
  return guarded(kFunction, [&]() -> int {
    if (bad_output(kFunction, out, out_len) ||
        bad_key(kFunction, key, key_len)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return hand_out(
        dengine::sm::encode_command(KvCommand::erase(bytes_of(key, key_len))),
        out, out_len);
  });
}

int dengine_kv_encode_cas(const void* key, size_t key_len, const void* expected,
                          size_t expected_len, const void* value,
                          size_t value_len, uint8_t** out, size_t* out_len) {
  constexpr const char* kFunction = "dengine_kv_encode_cas";
  return guarded(kFunction, [&]() -> int {
    if (bad_output(kFunction, out, out_len) ||
        bad_key(kFunction, key, key_len) ||
        bad_bytes(kFunction, "value", value, value_len)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    std::optional<std::string> want;
    if (expected != nullptr) want = bytes_of(expected, expected_len);
    return hand_out(dengine::sm::encode_command(KvCommand::compare_and_swap(
                        bytes_of(key, key_len), std::move(want),
                        bytes_of(value, value_len))),
                    out, out_len);
  });
}

int dengine_kv_encode_get(const void* key, size_t key_len, uint8_t** out,
                          size_t* out_len) {
  constexpr const char* kFunction = "dengine_kv_encode_get";
  return guarded(kFunction, [&]() -> int {
    if (bad_output(kFunction, out, out_len) ||
        bad_key(kFunction, key, key_len)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    return hand_out(
        dengine::sm::encode_read(KvRead::get(bytes_of(key, key_len))), out,
        out_len);
  });
}

int dengine_kv_encode_get_multi(const void* const* keys, const size_t* key_lens,
                                size_t count, uint8_t** out, size_t* out_len) {
  constexpr const char* kFunction = "dengine_kv_encode_get_multi";
  return guarded(kFunction, [&]() -> int {
    if (bad_output(kFunction, out, out_len)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (keys == nullptr || key_lens == nullptr || count == 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) +
                      ": needs keys, key_lens and count "
                      ">= 1");
    }
    std::vector<std::string> names;
    names.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (keys[i] == nullptr || key_lens[i] == 0) {
        return fail(DENGINE_ERR_INVALID_ARGUMENT,
                    std::string(kFunction) + ": key " + std::to_string(i) +
                        " is empty");
      }
      names.push_back(bytes_of(keys[i], key_lens[i]));
    }
    return hand_out(
        dengine::sm::encode_read(KvRead::get_multi(std::move(names))), out,
        out_len);
  });
}

int dengine_kv_encode_scan_prefix(const void* prefix, size_t prefix_len,
                                  uint32_t limit, uint8_t** out,
                                  size_t* out_len) {
  constexpr const char* kFunction = "dengine_kv_encode_scan_prefix";
  return guarded(kFunction, [&]() -> int {
    if (bad_output(kFunction, out, out_len) ||
        bad_bytes(kFunction, "prefix", prefix, prefix_len)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (limit == 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": limit must be at least 1");
    }
    return hand_out(dengine::sm::encode_read(KvRead::scan_prefix(
                        bytes_of(prefix, prefix_len), limit)),
                    out, out_len);
  });
}

int dengine_kv_decode_write(const void* data, size_t len, int* applied,
                            int* existed) {
  constexpr const char* kFunction = "dengine_kv_decode_write";
  return guarded(kFunction, [&]() -> int {
    if (bad_bytes(kFunction, "data", data, len)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    dengine::sm::KvWriteOutcome outcome;
    const dengine::storage::Status s =
        dengine::sm::decode_write_outcome(bytes_of(data, len), &outcome);
    if (!s) {
      return fail(dengine::storage::to_dengine_code(s),
                  std::string(kFunction) + ": " + s.message());
    }
    if (applied != nullptr) *applied = outcome.applied ? 1 : 0;
    if (existed != nullptr) *existed = outcome.existed ? 1 : 0;
    return DENGINE_OK;
  });
}

int dengine_kv_decode_read(const void* query, size_t query_len,
                           const void* answer, size_t answer_len,
                           dengine_kv_items* out) {
  constexpr const char* kFunction = "dengine_kv_decode_read";
  return guarded(kFunction, [&]() -> int {
    if (out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(kFunction) + ": out is NULL");
    }
    *out = dengine_kv_items{};
    if (bad_bytes(kFunction, "query", query, query_len) ||
        bad_bytes(kFunction, "answer", answer, answer_len)) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    KvRead read;
    dengine::sm::KvReadAnswer decoded;
    const dengine::storage::Status s = dengine::sm::decode_read_with_answer(
        bytes_of(query, query_len), bytes_of(answer, answer_len), &read,
        &decoded);
    if (!s) {
      return fail(dengine::storage::to_dengine_code(s),
                  std::string(kFunction) + ": " + s.message());
    }
    dengine::capi::fill_items(
        read.type == dengine::sm::KvReadType::kScanPrefix ? nullptr
                                                          : &read.keys,
        decoded.values, decoded.entries, decoded.more, out);
    return DENGINE_OK;
  });
}

}  // extern "C"
