#include "raft/conf_change.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace dengine::raft {

namespace {

// Layout, version 1:
//   u8 version, u8 type, varint node, varint context length, context bytes,
//   varint voter count, varint voter ids, varint learner count, varint
//   learner ids.
constexpr uint8_t kFormatVersion = 1;

void put_varint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void put_ids(const std::vector<NodeId>& ids, std::string* out) {
  put_varint(ids.size(), out);
  for (NodeId id : ids) put_varint(id, out);
}

// Reads from the front of `data`; every method fails (returns false) rather
// than reading past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool empty() const { return data_.empty(); }

  bool byte(uint8_t* out) {
    if (data_.empty()) return false;
    *out = static_cast<uint8_t>(data_.front());
    data_.remove_prefix(1);
    return true;
  }

  // Accepts only the shortest encoding, so each record has exactly one.
  bool varint(uint64_t* out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b;
      if (!byte(&b)) return false;
      if (shift == 63 && b > 1) return false;
      if (shift > 0 && b == 0) return false;
      value |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *out = value;
        return true;
      }
    }
    return false;
  }

  bool bytes(uint64_t n, std::string* out) {
    if (n > data_.size()) return false;
    out->assign(data_.substr(0, n));
    data_.remove_prefix(n);
    return true;
  }

  // Each id takes at least one byte, which bounds a corrupt count.
  bool ids(std::vector<NodeId>* out) {
    uint64_t count;
    if (!varint(&count) || count > data_.size()) return false;
    out->reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t id;
      if (!varint(&id) || id == kNoNode) return false;
      out->push_back(id);
    }
    return true;
  }

 private:
  std::string_view data_;
};

void insert_sorted(std::vector<NodeId>* ids, NodeId id) {
  ids->insert(std::upper_bound(ids->begin(), ids->end(), id), id);
}

void erase(std::vector<NodeId>* ids, NodeId id) {
  ids->erase(std::remove(ids->begin(), ids->end(), id), ids->end());
}

std::string node_name(NodeId id) { return "node " + std::to_string(id); }

bool has_duplicates(const ConfState& conf) {
  std::vector<NodeId> all = conf.voters;
  all.insert(all.end(), conf.learners.begin(), conf.learners.end());
  std::sort(all.begin(), all.end());
  return std::adjacent_find(all.begin(), all.end()) != all.end();
}

}  // namespace

const char* to_string(ConfChangeType type) {
  switch (type) {
    case ConfChangeType::kAddLearner:
      return "AddLearner";
    case ConfChangeType::kPromoteLearner:
      return "PromoteLearner";
    case ConfChangeType::kRemoveNode:
      return "RemoveNode";
    case ConfChangeType::kBootstrap:
      return "Bootstrap";
  }
  return "Unknown";
}

std::string apply_conf_change(const ConfState& conf, const ConfChange& change,
                              ConfState* out) {
  if (change.type == ConfChangeType::kBootstrap) {
    return "bootstrap only creates a cluster; it changes no membership";
  }
  const NodeId node = change.node;
  if (node == kNoNode) return "node id 0 is not a valid member";
  ConfState next = conf;
  std::sort(next.voters.begin(), next.voters.end());
  std::sort(next.learners.begin(), next.learners.end());
  switch (change.type) {
    case ConfChangeType::kAddLearner:
      if (conf.contains(node)) return node_name(node) + " is already a member";
      insert_sorted(&next.learners, node);
      break;
    case ConfChangeType::kPromoteLearner:
      if (!conf.is_learner(node)) return node_name(node) + " is not a learner";
      erase(&next.learners, node);
      insert_sorted(&next.voters, node);
      break;
    case ConfChangeType::kRemoveNode:
      if (!conf.contains(node)) return node_name(node) + " is not a member";
      if (conf.is_voter(node) && conf.voters.size() == 1) {
        return "cannot remove the last voter";
      }
      erase(&next.voters, node);
      erase(&next.learners, node);
      break;
    default:
      return "unknown change type " +
             std::to_string(static_cast<int>(change.type));
  }
  *out = std::move(next);
  return "";
}

std::string encode_conf_change(const ConfChangeRecord& record) {
  std::string out;
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(record.change.type));
  put_varint(record.change.node, &out);
  put_varint(record.change.context.size(), &out);
  out += record.change.context;
  put_ids(record.conf.voters, &out);
  put_ids(record.conf.learners, &out);
  return out;
}

std::optional<ConfChangeRecord> decode_conf_change(std::string_view data) {
  Reader reader(data);
  ConfChangeRecord record;
  uint8_t version;
  uint8_t type;
  uint64_t context_size;
  if (!reader.byte(&version) || version != kFormatVersion) return std::nullopt;
  if (!reader.byte(&type) ||
      type > static_cast<uint8_t>(ConfChangeType::kBootstrap)) {
    return std::nullopt;
  }
  record.change.type = static_cast<ConfChangeType>(type);
  if (!reader.varint(&record.change.node) || !reader.varint(&context_size) ||
      !reader.bytes(context_size, &record.change.context) ||
      !reader.ids(&record.conf.voters) || !reader.ids(&record.conf.learners) ||
      !reader.empty()) {
    return std::nullopt;
  }
  if (has_duplicates(record.conf)) return std::nullopt;
  return record;
}

}  // namespace dengine::raft
