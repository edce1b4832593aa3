#include "net/message_codec.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "base/byte_codec.h"

namespace dengine::net {

namespace {

using base::ByteReader;
using base::ByteWriter;
using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Snapshot;

// The last value of each enum; a new value needs a new wire version check.
constexpr uint8_t kLastMessageType =
    static_cast<uint8_t>(MessageType::kTimeoutNow);
constexpr uint8_t kLastEntryType = static_cast<uint8_t>(EntryType::kConfChange);

constexpr uint8_t kFlagReject = 1;
constexpr uint8_t kFlagTransfer = 2;
constexpr uint8_t kFlagSnapshot = 4;
constexpr uint8_t kKnownFlags = kFlagReject | kFlagTransfer | kFlagSnapshot;

// The fewest bytes one encoded entry takes: type, term, index, data length.
constexpr size_t kMinEntrySize = 1 + 8 + 8 + 4;

void encode_ids(ByteWriter* w, const std::vector<NodeId>& ids) {
  w->u32(static_cast<uint32_t>(ids.size()));
  for (NodeId id : ids) w->u64(id);
}

void encode_snapshot(ByteWriter* w, const Snapshot& snapshot) {
  w->u64(snapshot.meta.index);
  w->u64(snapshot.meta.term);
  encode_ids(w, snapshot.meta.conf.voters);
  encode_ids(w, snapshot.meta.conf.learners);
  w->bytes(snapshot.data);
}

std::string decode_ids(ByteReader* r, const char* what,
                       std::vector<NodeId>* out) {
  uint32_t count = 0;
  if (!r->u32(&count)) return std::string(what) + " count truncated";
  if (count > r->remaining() / 8) {
    return std::string(what) + " count " + std::to_string(count) +
           " exceeds the remaining bytes";
  }
  out->resize(count);
  for (NodeId& id : *out) {
    r->u64(&id);
    if (id == raft::kNoNode) return std::string(what) + " include node id 0";
  }
  return "";
}

// A membership lists each node once, in one role.
std::string validate_conf(const ConfState& conf) {
  std::vector<NodeId> all = conf.voters;
  all.insert(all.end(), conf.learners.begin(), conf.learners.end());
  std::sort(all.begin(), all.end());
  const auto dup = std::adjacent_find(all.begin(), all.end());
  if (dup == all.end()) return "";
  return "snapshot membership lists node " + std::to_string(*dup) + " twice";
}

std::string decode_snapshot(ByteReader* r, Snapshot* out) {
  if (!r->u64(&out->meta.index) || !r->u64(&out->meta.term)) {
    return "snapshot metadata truncated";
  }
  std::string error = decode_ids(r, "snapshot voters", &out->meta.conf.voters);
  if (error.empty()) {
    error = decode_ids(r, "snapshot learners", &out->meta.conf.learners);
  }
  if (error.empty()) error = validate_conf(out->meta.conf);
  if (!error.empty()) return error;
  std::string_view data;
  if (!r->bytes(&data)) return "snapshot data truncated";
  out->data.assign(data);
  return "";
}

std::string decode_entries(ByteReader* r, std::vector<Entry>* out) {
  uint32_t count = 0;
  if (!r->u32(&count)) return "entry count truncated";
  if (count > r->remaining() / kMinEntrySize) {
    return "entry count " + std::to_string(count) +
           " exceeds the remaining bytes";
  }
  out->resize(count);
  for (Entry& entry : *out) {
    uint8_t type = 0;
    std::string_view data;
    if (!r->u8(&type) || !r->u64(&entry.term) || !r->u64(&entry.index) ||
        !r->bytes(&data)) {
      return "entry truncated";
    }
    if (type > kLastEntryType) {
      return "unknown entry type " + std::to_string(type);
    }
    entry.type = static_cast<EntryType>(type);
    entry.data.assign(data);
  }
  return "";
}

std::string decode_fields(ByteReader* r, Message* m) {
  uint8_t type = 0;
  uint8_t flags = 0;
  if (!r->u8(&type) || !r->u8(&flags)) return "header truncated";
  if (type > kLastMessageType) {
    return "unknown message type " + std::to_string(type);
  }
  if ((flags & ~kKnownFlags) != 0) {
    return "unknown flags " + std::to_string(flags);
  }
  m->type = static_cast<MessageType>(type);
  m->reject = (flags & kFlagReject) != 0;
  m->transfer = (flags & kFlagTransfer) != 0;
  std::string_view context;
  if (!r->u64(&m->from) || !r->u64(&m->to) || !r->u64(&m->term) ||
      !r->u64(&m->log_term) || !r->u64(&m->index) || !r->u64(&m->commit) ||
      !r->u64(&m->reject_hint) || !r->u64(&m->read_round) ||
      !r->bytes(&context)) {
    return "fields truncated";
  }
  m->context.assign(context);
  std::string error = decode_entries(r, &m->entries);
  if (error.empty() && (flags & kFlagSnapshot) != 0) {
    error = decode_snapshot(r, &m->snapshot.emplace());
  }
  if (error.empty() && !r->at_end()) {
    error = std::to_string(r->remaining()) + " trailing bytes";
  }
  return error;
}

}  // namespace

std::string encode_message(const Message& message) {
  std::string out;
  ByteWriter w(&out);
  w.u8(static_cast<uint8_t>(message.type));
  w.u8((message.reject ? kFlagReject : 0) |
       (message.transfer ? kFlagTransfer : 0) |
       (message.snapshot ? kFlagSnapshot : 0));
  w.u64(message.from);
  w.u64(message.to);
  w.u64(message.term);
  w.u64(message.log_term);
  w.u64(message.index);
  w.u64(message.commit);
  w.u64(message.reject_hint);
  w.u64(message.read_round);
  w.bytes(message.context);
  w.u32(static_cast<uint32_t>(message.entries.size()));
  for (const Entry& entry : message.entries) {
    w.u8(static_cast<uint8_t>(entry.type));
    w.u64(entry.term);
    w.u64(entry.index);
    w.bytes(entry.data);
  }
  if (message.snapshot) encode_snapshot(&w, *message.snapshot);
  return out;
}

std::string decode_message(std::string_view payload, Message* out) {
  ByteReader r(payload);
  Message m;
  const std::string error = decode_fields(&r, &m);
  if (!error.empty()) return "raft message: " + error;
  *out = std::move(m);
  return "";
}

}  // namespace dengine::net
