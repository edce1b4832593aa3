#include "raft/describe.h"

#include <sstream>

#include "raft/conf_change.h"

namespace dengine::raft {

namespace {

// Printable ASCII as is, everything else escaped, so a trace stays one line.
std::string quote(const std::string& data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : data) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out + "\"";
}

std::string ids(const std::vector<NodeId>& list) {
  std::string out = "(";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out += ' ';
    out += std::to_string(list[i]);
  }
  return out + ")";
}

std::string describe_conf_change_entry(const std::string& data) {
  const std::optional<ConfChangeRecord> record = decode_conf_change(data);
  if (!record) {
    return "EntryConfChange <undecodable, " + std::to_string(data.size()) +
           " bytes>";
  }
  std::string out = "EntryConfChange ";
  out += to_string(record->change.type);
  if (record->change.node != kNoNode) {
    out += ' ' + std::to_string(record->change.node);
  }
  if (!record->change.context.empty()) {
    out += " context=" + quote(record->change.context);
  }
  return out + " -> " + describe(record->conf);
}

std::string describe_snapshot(const Snapshot& snapshot) {
  std::string out = "index=" + std::to_string(snapshot.meta.index) +
                    " term=" + std::to_string(snapshot.meta.term) + ' ' +
                    describe(snapshot.meta.conf);
  if (!snapshot.data.empty()) out += " data=" + quote(snapshot.data);
  return out;
}

// Appends a titled, indented list of lines when it has any.
template <typename T, typename F>
void section(std::ostringstream& out, const char* title,
             const std::vector<T>& items, F describe_item) {
  if (items.empty()) return;
  out << title << ":\n";
  for (const T& item : items) out << "  " << describe_item(item) << '\n';
}

}  // namespace

std::string describe(const Entry& entry) {
  std::string out =
      std::to_string(entry.term) + '/' + std::to_string(entry.index) + ' ';
  switch (entry.type) {
    case EntryType::kNormal:
      return out + "EntryNormal " + quote(entry.data);
    case EntryType::kNoop:
      return out + "EntryNoop";
    case EntryType::kConfChange:
      return out + describe_conf_change_entry(entry.data);
  }
  return out + "EntryUnknown(" + std::to_string(static_cast<int>(entry.type)) +
         ")";
}

std::string describe(const std::vector<Entry>& entries) {
  std::string out = "[";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out += ", ";
    out += describe(entries[i]);
  }
  return out + "]";
}

std::string describe(const Message& m) {
  std::ostringstream out;
  out << m.from << "->" << m.to << ' ' << to_string(m.type)
      << " term=" << m.term;
  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      out << " log_term=" << m.log_term << " index=" << m.index;
      if (m.transfer) out << " transfer";
      break;
    case MessageType::kPreVoteResponse:
    case MessageType::kVoteResponse:
      if (m.reject) out << " reject";
      break;
    case MessageType::kAppend:
      out << " log_term=" << m.log_term << " index=" << m.index
          << " commit=" << m.commit;
      if (!m.entries.empty()) out << " entries=" << describe(m.entries);
      break;
    case MessageType::kAppendResponse:
      out << " index=" << m.index;
      if (m.reject) {
        out << " reject reject_hint=" << m.reject_hint
            << " log_term=" << m.log_term;
      }
      break;
    case MessageType::kHeartbeat:
    case MessageType::kHeartbeatResponse:
      out << " commit=" << m.commit;
      break;
    case MessageType::kTimeoutNow:
      break;
    case MessageType::kInstallSnapshot:
      if (m.snapshot)
        out << " snapshot=(" << describe_snapshot(*m.snapshot) << ')';
      break;
    case MessageType::kReadIndex:
      out << " context=" << quote(m.context);
      break;
    case MessageType::kReadIndexResponse:
      out << " index=" << m.index << " context=" << quote(m.context);
      if (m.reject) out << " reject";
      break;
  }
  if (m.read_round != 0) out << " read_round=" << m.read_round;
  return out.str();
}

std::string describe(const HardState& hard_state) {
  return "term=" + std::to_string(hard_state.term) +
         " vote=" + std::to_string(hard_state.vote) +
         " commit=" + std::to_string(hard_state.commit);
}

std::string describe(const ConfState& conf) {
  std::string out = "voters=" + ids(conf.voters);
  if (!conf.learners.empty()) out += " learners=" + ids(conf.learners);
  return out;
}

std::string describe(const SoftState& soft_state) {
  std::string out = std::string(to_string(soft_state.role)) +
                    " leader=" + std::to_string(soft_state.leader);
  if (soft_state.role == Role::kLeader) {
    out +=
        soft_state.leader_ready ? " leader_ready=true" : " leader_ready=false";
  }
  return out;
}

// Sections follow the order in which the host handles them (see Ready).
std::string describe(const Ready& ready) {
  std::ostringstream out;
  if (ready.soft_state)
    out << "soft_state: " << describe(*ready.soft_state) << '\n';
  const auto message = [](const Message& m) { return describe(m); };
  const auto entry = [](const Entry& e) { return describe(e); };
  section(out, "messages", ready.messages, message);
  if (ready.snapshot) {
    out << "snapshot: " << describe_snapshot(*ready.snapshot) << '\n';
  }
  section(out, "entries", ready.entries, entry);
  if (ready.hard_state)
    out << "hard_state: " << describe(*ready.hard_state) << '\n';
  if (ready.must_sync) out << "must_sync: true\n";
  section(out, "messages_after_persist", ready.messages_after_persist, message);
  section(out, "committed_entries", ready.committed_entries, entry);
  section(out, "read_states", ready.read_states, [](const ReadState& rs) {
    return "index=" + std::to_string(rs.index) +
           " context=" + quote(rs.context);
  });
  section(out, "failed_reads", ready.failed_reads, [](const ReadFailure& rf) {
    return "context=" + quote(rf.context) +
           " leader=" + std::to_string(rf.leader);
  });
  std::string text = out.str();
  if (!text.empty()) text.pop_back();
  return text;
}

}  // namespace dengine::raft
