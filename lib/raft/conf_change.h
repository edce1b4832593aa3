// Membership changes, one server at a time (Raft thesis 4.1): each change adds
// or removes one node, so any majority of the old configuration overlaps any
// majority of the new one. A configuration takes effect as soon as its entry is
// in a node's log, committed or not, and is undone if that entry is truncated.
// A leader proposes the next change only once the previous one has committed,
// and only once it has committed an entry of its own term.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace dengine::raft {

enum class ConfChangeType : uint8_t {
  kAddLearner = 0,      // a new non-voting member
  kPromoteLearner = 1,  // a caught-up learner becomes a voter
  kRemoveNode = 2,      // a voter or learner leaves
  // Entry 1 of a new cluster's log: `conf` holds the initial voters.
  kBootstrap = 3,
};

const char* to_string(ConfChangeType type);

struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddLearner;
  NodeId node = kNoNode;
  // Opaque to the core (the node layer stores the member's address here).
  std::string context;

  bool operator==(const ConfChange&) const = default;
};

// Payload of a kConfChange entry: the change and the whole configuration it
// produces, so an entry can be applied without knowing what came before it.
struct ConfChangeRecord {
  ConfChange change;
  ConfState conf;

  bool operator==(const ConfChangeRecord&) const = default;
};

// Applies `change` to `conf`. Returns an empty string and sets *out on
// success, else says why the change is not allowed.
std::string apply_conf_change(const ConfState& conf, const ConfChange& change,
                              ConfState* out);

std::string encode_conf_change(const ConfChangeRecord& record);
std::optional<ConfChangeRecord> decode_conf_change(std::string_view data);

}  // namespace dengine::raft
