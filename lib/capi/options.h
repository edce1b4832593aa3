// The request options of include/dengine.h (dengine_write_options,
// dengine_read_options, dengine_watch_options): versioned structs read by
// the banner's rule (sm/versioned_struct.h), NULL meaning every default.
#pragma once

#include <chrono>
#include <string>

#include "dengine.h"
#include "node/node.h"
#include "watch/hub.h"

namespace dengine::capi {

struct WriteOptions {
  bool kv = false;  // DENGINE_REQUEST_KV
  bool has_session = false;
  node::Session session;
  std::chrono::milliseconds timeout{0};  // zero: the default
};

struct ReadOptions {
  bool kv = false;                         // DENGINE_REQUEST_KV
  int consistency = DENGINE_READ_DEFAULT;  // checked by the caller
  std::chrono::milliseconds timeout{0};    // zero: the default
};

// Empty and *out filled, or why `in` is unusable ("options->flags must be
// 0").
std::string read_write_options(const dengine_write_options* in,
                               WriteOptions* out);
std::string read_read_options(const dengine_read_options* in, ReadOptions* out);
// NULL: every KV event from now on.
std::string read_watch_options(const dengine_watch_options* in,
                               watch::WatchOptions* out);

}  // namespace dengine::capi
