// What the built-in KV machines store per key, and the read-only view of the
// committed state that a chunk of commands is applied on top of
// (kv_apply.h). Each machine implements KvBaseStore over its own storage.
//
// Invariant kept by kv_apply.cc: at every chunk boundary, no stored key has
// expire_at_ms <= the machine clock (expired keys are deleted as the clock
// passes them), so reads need no expiry check and the key count is exact.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace dengine::sm {

struct StoredValue {
  std::string value;
  uint64_t expire_at_ms = 0;  // 0: never expires

  bool operator==(const StoredValue&) const = default;
};

// u8 format version, u64 expire_at_ms, then the value bytes to the end.
std::string encode_stored_value(const StoredValue& value);
storage::Status decode_stored_value(std::string_view data, StoredValue* out);

class KvBaseStore {
 public:
  virtual ~KvBaseStore() = default;
  virtual storage::Status get(std::string_view key,
                              std::optional<StoredValue>* out) = 0;
  // Appends the keys whose expire_at_ms is in (after_ms, up_to_ms].
  virtual storage::Status expiring_keys(uint64_t after_ms, uint64_t up_to_ms,
                                        std::vector<std::string>* out) = 0;
};

}  // namespace dengine::sm
