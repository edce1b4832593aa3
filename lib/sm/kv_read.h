// The one place that answers KV read queries (get, get-multi, scan-prefix),
// shared by both built-in machines over their own consistent view of the
// applied state. No expiry check is needed: see the invariant in kv_store.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/status.h"

namespace dengine::sm {

// One consistent view of the applied state, for the duration of one query.
class KvReadView {
 public:
  virtual ~KvReadView() = default;
  // The index of the last entry applied in this view: the revision its
  // answers reflect.
  virtual storage::Status revision(uint64_t* out) = 0;
  virtual storage::Status get(std::string_view key,
                              std::optional<std::string>* value) = 0;
  // Up to `limit` keys starting with `prefix`, in byte order; *more tells
  // whether further keys matched.
  virtual storage::Status scan_prefix(
      std::string_view prefix, uint32_t limit,
      std::vector<std::pair<std::string, std::string>>* entries,
      bool* more) = 0;
};

// Decodes `query`, answers it from `view` and encodes the answer, with the
// view's revision in *revision (if not nullptr). A malformed query fails
// with kInvalidArgument.
storage::Status serve_read(KvReadView* view, std::string_view query,
                           std::string* answer, uint64_t* revision = nullptr);

}  // namespace dengine::sm
