// dengine_kv_*: the built-in KV machine's operations (lib/node/kv.h).
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "capi/errors.h"
#include "capi/handles.h"
#include "capi/memory.h"
#include "node/kv.h"

using dengine::capi::bytes_of;
using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::node::KvReadReply;
using dengine::node::KvWriteReply;
using dengine::sm::KvCommand;
using dengine::sm::KvRead;

namespace {

// The checks every KV call shares: a node, a key.
bool bad_key(const dengine_node* node, const void* key, size_t key_len,
             const char* function) {
  if (!dengine::capi::valid(node, function)) return true;
  if (key == nullptr || key_len == 0) {
    fail(DENGINE_ERR_INVALID_ARGUMENT, std::string(function) + ": empty key");
    return true;
  }
  return false;
}

KvWriteReply write(dengine_node* node, KvCommand command,
                   const dengine_session* session, uint32_t timeout_ms) {
  dengine::node::Session s;
  if (session != nullptr) {
    s = {session->client_id, session->seq, session->acked_seq};
  }
  return dengine::node::kv_write(*node->node, std::move(command),
                                 session == nullptr ? nullptr : &s,
                                 dengine::capi::to_timeout(timeout_ms));
}

// What an applied write did (nothing, for a write that failed).
dengine::sm::KvWriteOutcome outcome(const KvWriteReply& r) {
  dengine::sm::KvWriteOutcome out;
  if (r.reply.status == DENGINE_OK) {
    (void)dengine::sm::outcome_of(r.result, &out);
  }
  return out;
}

int read(dengine_node* node, const KvRead& query, int consistency,
         uint32_t timeout_ms, const char* function, KvReadReply* out) {
  dengine::node::ReadConsistency c;
  if (!dengine::capi::to_consistency(consistency, node, &c)) {
    return fail(
        DENGINE_ERR_INVALID_ARGUMENT,
        std::string(function) + ": consistency must be a DENGINE_READ_*");
  }
  *out = dengine::node::kv_read(*node->node, query, c,
                                dengine::capi::to_timeout(timeout_ms));
  return dengine::capi::status_of(out->reply, function);
}

}  // namespace

extern "C" {

int dengine_kv_put(dengine_node* node, const void* key, size_t key_len,
                   const void* value, size_t value_len,
                   const dengine_session* session, uint32_t timeout_ms) {
  return guarded("dengine_kv_put", [&]() -> int {
    if (bad_key(node, key, key_len, "dengine_kv_put")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    const KvWriteReply r = write(
        node,
        KvCommand::put(bytes_of(key, key_len), bytes_of(value, value_len)),
        session, timeout_ms);
    return dengine::capi::status_of(r.reply, "dengine_kv_put");
  });
}

int dengine_kv_put_ttl(dengine_node* node, const void* key, size_t key_len,
                       const void* value, size_t value_len, uint64_t ttl_ms,
                       const dengine_session* session, uint32_t timeout_ms) {
  return guarded("dengine_kv_put_ttl", [&]() -> int {
    if (bad_key(node, key, key_len, "dengine_kv_put_ttl")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (ttl_ms == 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_kv_put_ttl: ttl_ms must be positive");
    }
    const KvWriteReply r =
        write(node,
              KvCommand::put_with_ttl(bytes_of(key, key_len),
                                      bytes_of(value, value_len), ttl_ms),
              session, timeout_ms);
    return dengine::capi::status_of(r.reply, "dengine_kv_put_ttl");
  });
}

int dengine_kv_delete(dengine_node* node, const void* key, size_t key_len,
                      const dengine_session* session, uint32_t timeout_ms,
                      int* existed) {
  return guarded("dengine_kv_delete", [&]() -> int {
    if (bad_key(node, key, key_len, "dengine_kv_delete")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    const KvWriteReply r = write(node, KvCommand::erase(bytes_of(key, key_len)),
                                 session, timeout_ms);
    if (existed != nullptr) *existed = outcome(r).existed ? 1 : 0;
    return dengine::capi::status_of(r.reply, "dengine_kv_delete");
  });
}

int dengine_kv_cas(dengine_node* node, const void* key, size_t key_len,
                   const void* expected, size_t expected_len, const void* value,
                   size_t value_len, const dengine_session* session,
                   uint32_t timeout_ms, int* swapped) {
  return guarded("dengine_kv_cas", [&]() -> int {
    if (bad_key(node, key, key_len, "dengine_kv_cas")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    std::optional<std::string> want;
    if (expected != nullptr) want = bytes_of(expected, expected_len);
    const KvWriteReply r = write(
        node,
        KvCommand::compare_and_swap(bytes_of(key, key_len), std::move(want),
                                    bytes_of(value, value_len)),
        session, timeout_ms);
    if (swapped != nullptr) *swapped = outcome(r).applied ? 1 : 0;
    return dengine::capi::status_of(r.reply, "dengine_kv_cas");
  });
}

void dengine_kv_items_free(dengine_kv_items* items) {
  if (items == nullptr) return;
  for (size_t i = 0; i < items->count; ++i) {
    std::free(items->items[i].key);
    std::free(items->items[i].value);
  }
  std::free(items->items);
  *items = dengine_kv_items{};
}

int dengine_kv_get(dengine_node* node, const void* key, size_t key_len,
                   int consistency, uint32_t timeout_ms, uint8_t** value,
                   size_t* value_len) {
  return guarded("dengine_kv_get", [&]() -> int {
    if (bad_key(node, key, key_len, "dengine_kv_get")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (value == nullptr || value_len == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_kv_get: value and value_len must not be NULL");
    }
    *value = nullptr;
    *value_len = 0;
    KvReadReply r;
    const int rc = read(node, KvRead::get(bytes_of(key, key_len)), consistency,
                        timeout_ms, "dengine_kv_get", &r);
    if (rc != DENGINE_OK) return rc;
    if (r.answer.values.size() != 1 || !r.answer.values[0].has_value()) {
      return fail(DENGINE_ERR_NOT_FOUND, "dengine_kv_get: no such key");
    }
    *value = dengine::capi::malloc_value(*r.answer.values[0]);
    *value_len = r.answer.values[0]->size();
    return DENGINE_OK;
  });
}

int dengine_kv_get_multi(dengine_node* node, const void* const* keys,
                         const size_t* key_lens, size_t count, int consistency,
                         uint32_t timeout_ms, dengine_kv_items* out) {
  return guarded("dengine_kv_get_multi", [&]() -> int {
    if (!dengine::capi::valid(node, "dengine_kv_get_multi")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (out == nullptr || keys == nullptr || key_lens == nullptr ||
        count == 0) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_kv_get_multi: needs keys, key_lens, count >= 1 "
                  "and out");
    }
    *out = dengine_kv_items{};
    std::vector<std::string> names;
    for (size_t i = 0; i < count; ++i) {
      if (keys[i] == nullptr || key_lens[i] == 0) {
        return fail(
            DENGINE_ERR_INVALID_ARGUMENT,
            "dengine_kv_get_multi: key " + std::to_string(i) + " is empty");
      }
      names.push_back(bytes_of(keys[i], key_lens[i]));
    }
    KvReadReply r;
    const int rc = read(node, KvRead::get_multi(names), consistency, timeout_ms,
                        "dengine_kv_get_multi", &r);
    if (rc != DENGINE_OK) return rc;
    dengine::capi::fill_items(&names, r.answer.values, r.answer.entries, false,
                              out);
    return DENGINE_OK;
  });
}

int dengine_kv_scan_prefix(dengine_node* node, const void* prefix,
                           size_t prefix_len, uint32_t limit, int consistency,
                           uint32_t timeout_ms, dengine_kv_items* out) {
  return guarded("dengine_kv_scan_prefix", [&]() -> int {
    if (!dengine::capi::valid(node, "dengine_kv_scan_prefix")) {
      return DENGINE_ERR_INVALID_ARGUMENT;
    }
    if (out == nullptr || limit == 0 || (prefix == nullptr && prefix_len > 0)) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_kv_scan_prefix: needs out and limit >= 1");
    }
    *out = dengine_kv_items{};
    KvReadReply r;
    const int rc =
        read(node, KvRead::scan_prefix(bytes_of(prefix, prefix_len), limit),
             consistency, timeout_ms, "dengine_kv_scan_prefix", &r);
    if (rc != DENGINE_OK) return rc;
    dengine::capi::fill_items(nullptr, r.answer.values, r.answer.entries,
                              r.answer.more, out);
    return DENGINE_OK;
  });
}

}  // extern "C"

namespace dengine::capi {

void fill_items(const std::vector<std::string>* keys,
                const std::vector<std::optional<std::string>>& values,
                const std::vector<std::pair<std::string, std::string>>& entries,
                bool more, dengine_kv_items* out) {
  const size_t count = keys != nullptr ? keys->size() : entries.size();
  *out = dengine_kv_items{};
  out->more = more ? 1 : 0;
  if (count == 0) return;
  out->items = static_cast<dengine_kv_item*>(
      std::calloc(count, sizeof(dengine_kv_item)));
  if (out->items == nullptr) throw std::bad_alloc();
  out->count = count;
  try {
    for (size_t i = 0; i < count; ++i) {
      dengine_kv_item& item = out->items[i];
      const std::string& key = keys != nullptr ? (*keys)[i] : entries[i].first;
      const std::string* value = nullptr;
      if (keys == nullptr) {
        value = &entries[i].second;
      } else if (i < values.size() && values[i].has_value()) {
        value = &*values[i];
      }
      item.key = malloc_bytes(key);
      item.key_len = key.size();
      item.found = value != nullptr ? 1 : 0;
      if (value != nullptr) {
        item.value = malloc_bytes(*value);
        item.value_len = value->size();
      }
    }
  } catch (...) {
    dengine_kv_items_free(out);
    throw;
  }
}

uint8_t* malloc_value(const std::string& value) {
  // An empty value still gets a pointer, so "found" never looks like NULL.
  uint8_t* copy = malloc_bytes(value);
  if (copy == nullptr) {
    copy = static_cast<uint8_t*>(std::malloc(1));
    if (copy == nullptr) throw std::bad_alloc();
  }
  return copy;
}

}  // namespace dengine::capi
