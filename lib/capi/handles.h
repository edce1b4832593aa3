// The opaque handles of include/dengine.h and the conversions between the
// node layer's replies and the C structs; shared by config.cc, node.cc,
// kv.cc and client.cc.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dengine.h"
#include "node/node.h"

struct dengine_config {
  dengine::node::NodeOptions options;
};

struct dengine_node {
  std::unique_ptr<dengine::node::Node> node;
};

namespace dengine::capi {

// Records the reply's error as the thread's last error (when not OK) and
// returns its status.
int status_of(const node::Reply& reply, const char* function);
// Fills a caller-owned reply (NULL allowed) with malloc'd copies.
void fill_owned(const node::Reply& reply, dengine_reply* out);
// Calls `done` with a reply borrowing from `reply`.
void complete(const node::Reply& reply, dengine_done_fn done, void* ctx);
// Wraps a dengine_done_fn as a node callback.
node::Node::Callback callback_for(dengine_done_fn done, void* ctx);
// The node layer's consistency for a DENGINE_READ_* value, or false.
bool to_consistency(int value, const dengine_node* node,
                    node::ReadConsistency* out);
std::chrono::milliseconds to_timeout(uint32_t timeout_ms);
// Fills *out (members malloc'd: dengine_status_free) from a node's status.
void fill_status(const node::NodeStatus& status, dengine_status* out);
// Checks the handle; records the error and returns false when NULL.
bool valid(const dengine_node* node, const char* function);
// Fills *out with malloc'd items: one per key of `keys` with `values` (a
// get-multi), or, when keys is NULL, one per entry (a scan).
void fill_items(const std::vector<std::string>* keys,
                const std::vector<std::optional<std::string>>& values,
                const std::vector<std::pair<std::string, std::string>>& entries,
                bool more, dengine_kv_items* out);
// A malloc'd copy of a found value (never NULL, even when empty).
uint8_t* malloc_value(const std::string& value);

}  // namespace dengine::capi
