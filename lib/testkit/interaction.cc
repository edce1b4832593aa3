#include "testkit/interaction.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "raft/conf_change.h"
#include "raft/describe.h"

namespace dengine::testkit {

using raft::Index;
using raft::Message;
using raft::NodeId;

namespace {

uint64_t to_uint(const std::string& text, const std::string& what) {
  if (text.empty() ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument(what + ": expected a number, got \"" + text +
                                "\"");
  }
  return std::stoull(text);
}

bool to_bool(const std::string& text, const std::string& what) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw std::invalid_argument(what + ": expected true or false, got \"" + text +
                              "\"");
}

// Arguments without '=' or parentheses, in order.
std::vector<std::string> positionals(const TestData& data) {
  std::vector<std::string> out;
  for (const CmdArg& arg : data.args) {
    if (!arg.has_value) out.push_back(arg.key);
  }
  return out;
}

const std::string* option(const TestData& data, const std::string& key) {
  const CmdArg* arg = data.find(key);
  if (arg == nullptr) return nullptr;
  if (arg->vals.size() != 1) {
    throw std::invalid_argument(key + "= takes one value");
  }
  return &arg->vals.front();
}

std::vector<NodeId> id_list(const TestData& data, const std::string& key) {
  std::vector<NodeId> ids;
  if (const CmdArg* arg = data.find(key)) {
    for (const std::string& v : arg->vals) ids.push_back(to_uint(v, key));
  }
  return ids;
}

const std::string& positional(const std::vector<std::string>& pos, size_t i,
                              const char* what) {
  if (i >= pos.size()) {
    throw std::invalid_argument(std::string("missing argument: ") + what);
  }
  return pos[i];
}

std::string indent(const std::string& text) {
  std::string out = "  ";
  for (char c : text) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}

// The toy state machine's snapshot: "index=data" pairs joined by ','.
std::string encode_state(
    const std::vector<std::pair<Index, std::string>>& applied, Index upto) {
  std::string out;
  for (const auto& [index, data] : applied) {
    if (index > upto) break;
    if (!out.empty()) out += ',';
    out += std::to_string(index) + '=' + data;
  }
  return out;
}

std::vector<std::pair<Index, std::string>> decode_state(
    const std::string& text) {
  std::vector<std::pair<Index, std::string>> applied;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(begin, end - begin);
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw std::logic_error("malformed snapshot data: " + text);
    }
    applied.emplace_back(to_uint(item.substr(0, eq), "snapshot data"),
                         item.substr(eq + 1));
    begin = end + 1;
  }
  return applied;
}

std::string role_and_term(raft::Role role, raft::Term term) {
  return std::string(raft::to_string(role)) + " term=" + std::to_string(term);
}

std::string refusal(const raft::Result& result) {
  std::string out = "rejected: ";
  out += raft::to_string(result.code);
  if (result.code == raft::Code::kNotLeader) {
    out += " leader=" + std::to_string(result.leader);
  }
  if (!result.message.empty()) out += " (" + result.message + ")";
  return out;
}

}  // namespace

InteractionEnv::InteractionEnv() = default;
InteractionEnv::~InteractionEnv() = default;

raft::Raft* InteractionEnv::raft(NodeId id) { return node(id).raft.get(); }

raft::MemoryStorage& InteractionEnv::storage(NodeId id) {
  return *node(id).storage;
}

const std::vector<std::pair<Index, std::string>>& InteractionEnv::applied(
    NodeId id) {
  return node(id).applied_data;
}

InteractionEnv::Node& InteractionEnv::node(NodeId id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) {
    throw std::invalid_argument("no node " + std::to_string(id));
  }
  return it->second;
}

InteractionEnv::Node& InteractionEnv::live_node(NodeId id) {
  Node& n = node(id);
  if (!n.raft) {
    throw std::invalid_argument("node " + std::to_string(id) + " is crashed");
  }
  return n;
}

std::vector<NodeId> InteractionEnv::node_ids() const {
  std::vector<NodeId> ids;
  for (const auto& entry : nodes_) ids.push_back(entry.first);
  return ids;
}

std::vector<NodeId> InteractionEnv::ids_or_all(const TestData& data) const {
  std::vector<NodeId> ids;
  for (const std::string& p : positionals(data)) {
    ids.push_back(to_uint(p, data.cmd));
  }
  return ids;
}

std::string InteractionEnv::handle(const TestData& data) {
  std::ostringstream out;
  const std::string& cmd = data.cmd;
  if (cmd == "add-nodes") {
    add_nodes(data, out);
  } else if (cmd == "campaign") {
    for (NodeId id : ids_or_all(data)) live_node(id).raft->campaign();
  } else if (cmd == "propose" || cmd == "propose-conf-change" ||
             cmd == "read-index" || cmd == "transfer-leadership" ||
             cmd == "report-unreachable" || cmd == "report-snapshot") {
    request(data, out);
  } else if (cmd == "tick" || cmd == "tick-heartbeat" ||
             cmd == "tick-election") {
    tick(data, out);
  } else if (cmd == "process-ready") {
    const std::string* persist = option(data, "persist");
    const bool durable = persist == nullptr || to_bool(*persist, "persist");
    for (NodeId id : ids_or_all(data)) process_ready(id, durable, out);
  } else if (cmd == "persist") {
    for (NodeId id : ids_or_all(data)) {
      Node& n = live_node(id);
      if (!n.in_flight) {
        throw std::invalid_argument("node " + std::to_string(id) +
                                    " has no Ready in flight");
      }
      out << "> " << id << " persisted its Ready\n";
      const raft::Ready ready = std::move(*n.in_flight);
      n.in_flight.reset();
      finish_ready(n, ready);
    }
  } else if (cmd == "deliver-msgs") {
    const std::vector<NodeId> drop = id_list(data, "drop");
    std::vector<NodeId> to = ids_or_all(data);
    if (!to.empty()) to.insert(to.end(), drop.begin(), drop.end());
    deliver(to, {drop.begin(), drop.end()}, out);
  } else if (cmd == "drop-msgs") {
    const std::string* from = option(data, "from");
    const std::string* to = option(data, "to");
    std::vector<Message> kept;
    for (Message& m : bus_) {
      if ((from == nullptr || m.from == to_uint(*from, "from")) &&
          (to == nullptr || m.to == to_uint(*to, "to"))) {
        dropped(m, "drop-msgs", out);
      } else {
        kept.push_back(std::move(m));
      }
    }
    bus_ = std::move(kept);
  } else if (cmd == "stabilize") {
    stabilize(ids_or_all(data), out);
  } else if (cmd == "partition") {
    partition(data);
  } else if (cmd == "isolate") {
    for (NodeId id : ids_or_all(data)) {
      node(id);  // throws on an unknown id
      isolated_.insert(id);
    }
  } else if (cmd == "heal") {
    group_.clear();
    isolated_.clear();
  } else if (cmd == "crash") {
    for (NodeId id : ids_or_all(data)) crash(id, out);
  } else if (cmd == "restart") {
    for (NodeId id : ids_or_all(data)) {
      Node& n = node(id);
      if (n.raft) {
        throw std::invalid_argument("node " + std::to_string(id) +
                                    " is running; crash it first");
      }
      start(id, n);
      out << state_line(id) << '\n';
    }
  } else if (cmd == "compact") {
    compact(data, out);
  } else if (cmd == "status") {
    for (NodeId id : ids_or_all(data)) status(id, out);
  } else if (cmd == "raft-log") {
    for (NodeId id : ids_or_all(data)) raft_log(id, out);
  } else if (cmd == "raft-state") {
    for (NodeId id : node_ids()) {
      const Node& n = nodes_.at(id);
      out << id << ": ";
      if (!n.raft) {
        out << "crashed\n";
        continue;
      }
      out << role_and_term(n.raft->role(), n.raft->term())
          << " leader=" << n.raft->leader() << '\n';
    }
  } else if (cmd == "applied") {
    for (NodeId id : ids_or_all(data)) {
      const Node& n = node(id);
      out << id << ": applied=" << n.applied << " [";
      for (size_t i = 0; i < n.applied_data.size(); ++i) {
        if (i > 0) out << ", ";
        out << n.applied_data[i].first << ' ' << n.applied_data[i].second;
      }
      out << "]\n";
    }
  } else {
    throw std::invalid_argument("unknown command: " + cmd);
  }
  return out.str();
}

void InteractionEnv::add_nodes(const TestData& data, std::ostringstream& out) {
  const std::vector<std::string> pos = positionals(data);
  const uint64_t count = to_uint(positional(pos, 0, "N"), "add-nodes N");
  raft::Config base;
  const auto int_option = [&](const char* key, int* field) {
    if (const std::string* v = option(data, key)) {
      *field = static_cast<int>(to_uint(*v, key));
    }
  };
  const auto uint_option = [&](const char* key, uint64_t* field) {
    if (const std::string* v = option(data, key)) *field = to_uint(*v, key);
  };
  const auto bool_option = [&](const char* key, bool* field) {
    if (const std::string* v = option(data, key)) *field = to_bool(*v, key);
  };
  bool_option("prevote", &base.pre_vote);
  bool_option("checkquorum", &base.check_quorum);
  int_option("election", &base.election_tick);
  int_option("heartbeat", &base.heartbeat_tick);
  int_option("lease-drift", &base.lease_drift_ticks);
  uint_option("max-inflight", &base.max_inflight_msgs);
  uint_option("max-inflight-bytes", &base.max_inflight_bytes);
  uint_option("max-msg-bytes", &base.max_msg_bytes);
  uint_option("max-entry-bytes", &base.max_entry_bytes);
  const std::string* seed = option(data, "seed");
  const std::string* index = option(data, "index");
  raft::ConfState conf;
  conf.voters = id_list(data, "voters");
  conf.learners = id_list(data, "learners");
  if (index == nullptr && !conf.learners.empty()) {
    throw std::invalid_argument(
        "learners= needs index=: a new cluster bootstraps voters only");
  }
  const NodeId first = nodes_.empty() ? 1 : nodes_.rbegin()->first + 1;
  for (NodeId id = first; id < first + count; ++id) {
    Node n;
    n.config = base;
    n.config.id = id;
    n.seed = seed == nullptr ? id : to_uint(*seed, "seed") + id;
    n.storage = std::make_unique<raft::MemoryStorage>();
    if (index != nullptr) {
      raft::Snapshot snapshot;
      snapshot.meta = {to_uint(*index, "index"), 1, conf};
      n.storage->apply_snapshot(snapshot);
      n.storage->set_hard_state({1, raft::kNoNode, snapshot.meta.index});
    } else if (conf.is_voter(id)) {
      n.config.bootstrap_voters = conf.voters;
    }
    Node& added = nodes_[id] = std::move(n);
    start(id, added);
    out << state_line(id) << '\n';
  }
}

// Creates the core from storage; the state machine restarts from the
// storage's snapshot, and the core replays the committed entries after it.
void InteractionEnv::start(NodeId id, Node& n) {
  const raft::Snapshot snapshot = n.storage->snapshot();
  n.applied_data = decode_state(snapshot.data);
  n.conf_history.clear();
  if (!snapshot.empty()) {
    n.conf_history.emplace_back(snapshot.meta.index, snapshot.meta.conf);
  }
  n.applied = snapshot.meta.index;
  n.in_flight.reset();
  n.config.applied = n.applied;
  n.config.seed = n.seed + 1'000'003 * n.starts++;
  std::string error;
  n.raft = raft::Raft::create(n.config, n.storage.get(), &error);
  if (!n.raft) {
    throw std::logic_error("node " + std::to_string(id) +
                           " could not start: " + error);
  }
}

void InteractionEnv::request(const TestData& data, std::ostringstream& out) {
  const std::vector<std::string> pos = positionals(data);
  const NodeId id = to_uint(positional(pos, 0, "ID"), data.cmd);
  raft::Raft& r = *live_node(id).raft;
  raft::Result result;
  if (data.cmd == "propose") {
    const std::string& payload = positional(pos, 1, "DATA");
    if (payload.find(',') != std::string::npos) {
      throw std::invalid_argument("proposal data must not contain ','");
    }
    result = r.propose(payload);
  } else if (data.cmd == "propose-conf-change") {
    const std::string& type = positional(pos, 1, "add-learner|promote|remove");
    raft::ConfChange change;
    if (type == "add-learner") {
      change.type = raft::ConfChangeType::kAddLearner;
    } else if (type == "promote") {
      change.type = raft::ConfChangeType::kPromoteLearner;
    } else if (type == "remove") {
      change.type = raft::ConfChangeType::kRemoveNode;
    } else {
      throw std::invalid_argument("unknown change type " + type);
    }
    change.node = to_uint(positional(pos, 2, "NODE"), "NODE");
    result = r.propose_conf_change(change);
  } else if (data.cmd == "read-index") {
    const bool lease = pos.size() > 2 && pos[2] == "lease";
    result = r.read_index(
        positional(pos, 1, "CTX"),
        lease ? raft::ReadMode::kLease : raft::ReadMode::kReadIndex);
  } else if (data.cmd == "transfer-leadership") {
    const std::string* to = option(data, "to");
    if (to == nullptr) throw std::invalid_argument("missing to=");
    result = r.transfer_leadership(to_uint(*to, "to"));
  } else if (data.cmd == "report-unreachable") {
    r.report_unreachable(to_uint(positional(pos, 1, "N"), "N"));
  } else {
    const std::string& outcome = positional(pos, 2, "ok|fail");
    if (outcome != "ok" && outcome != "fail") {
      throw std::invalid_argument("expected ok or fail, got " + outcome);
    }
    r.report_snapshot(to_uint(positional(pos, 1, "N"), "N"), outcome == "ok");
  }
  if (!result.ok()) out << refusal(result) << '\n';
}

void InteractionEnv::tick(const TestData& data, std::ostringstream& out) {
  const std::vector<std::string> pos = positionals(data);
  const std::string& target = positional(pos, 0, "ID");
  if (data.cmd == "tick") {
    const int ticks = pos.size() > 1 ? to_uint(pos[1], "ticks") : 1;
    if (target != "all") {
      tick_node(to_uint(target, "ID"), 1, ticks, out);
      return;
    }
    for (int i = 1; i <= ticks; ++i) {
      for (NodeId id : node_ids()) {
        if (nodes_.at(id).raft) tick_node(id, i, i, out);
      }
    }
    return;
  }
  const NodeId id = to_uint(target, "ID");
  const Node& n = live_node(id);
  int ticks = n.config.heartbeat_tick;
  if (data.cmd == "tick-election") {
    ticks = n.raft->role() == raft::Role::kLeader
                ? n.config.election_tick
                : 2 * n.config.election_tick - 1;
  }
  tick_node(id, 1, ticks, out);
}

void InteractionEnv::tick_node(NodeId id, int first, int last,
                               std::ostringstream& out) {
  raft::Raft& r = *live_node(id).raft;
  for (int i = first; i <= last; ++i) {
    const raft::Role role = r.role();
    const raft::Term term = r.term();
    r.tick();
    if (r.role() != role || r.term() != term) {
      out << id << " tick " << i << ": " << role_and_term(role, term) << " -> "
          << role_and_term(r.role(), r.term()) << '\n';
    }
  }
}

bool InteractionEnv::process_ready(NodeId id, bool persist,
                                   std::ostringstream& out) {
  Node& n = live_node(id);
  if (n.in_flight) {
    throw std::invalid_argument("node " + std::to_string(id) +
                                " has a Ready in flight; persist it first");
  }
  if (!n.raft->has_ready()) {
    out << "> " << id << " has no Ready\n";
    return false;
  }
  raft::Ready ready = n.raft->ready();
  out << "> " << id << " handling Ready"
      << (persist ? "" : " (writes in flight until persisted)") << '\n'
      << indent(raft::describe(ready)) << '\n';
  bus_.insert(bus_.end(), ready.messages.begin(), ready.messages.end());
  if (persist) {
    finish_ready(n, ready);
  } else {
    n.in_flight = std::move(ready);
  }
  return true;
}

// Steps 2-5 of handling a Ready (see raft::Ready), then advance().
void InteractionEnv::finish_ready(Node& n, const raft::Ready& ready) {
  if (ready.snapshot && !n.storage->apply_snapshot(*ready.snapshot)) {
    throw std::logic_error("storage refused the snapshot at index " +
                           std::to_string(ready.snapshot->meta.index));
  }
  if (!ready.entries.empty() &&
      ready.entries.front().index > n.storage->last_index() + 1) {
    throw std::logic_error("Ready entries leave a gap after index " +
                           std::to_string(n.storage->last_index()));
  }
  n.storage->append(ready.entries);
  if (ready.hard_state) n.storage->set_hard_state(*ready.hard_state);
  bus_.insert(bus_.end(), ready.messages_after_persist.begin(),
              ready.messages_after_persist.end());
  if (ready.snapshot) apply_snapshot(n, *ready.snapshot);
  for (const raft::Entry& entry : ready.committed_entries) {
    apply_entry(n, entry);
  }
  n.raft->advance(ready);
}

void InteractionEnv::apply_snapshot(Node& n, const raft::Snapshot& snapshot) {
  n.applied_data = decode_state(snapshot.data);
  n.conf_history.assign(1, {snapshot.meta.index, snapshot.meta.conf});
  n.applied = snapshot.meta.index;
}

void InteractionEnv::apply_entry(Node& n, const raft::Entry& entry) {
  if (entry.index != n.applied + 1) {
    throw std::logic_error("committed entry " + raft::describe(entry) +
                           " does not follow applied index " +
                           std::to_string(n.applied));
  }
  n.applied = entry.index;
  if (entry.type == raft::EntryType::kNormal) {
    n.applied_data.emplace_back(entry.index, entry.data);
  } else if (entry.type == raft::EntryType::kConfChange) {
    const auto record = raft::decode_conf_change(entry.data);
    if (!record) {
      throw std::logic_error("undecodable conf change " +
                             raft::describe(entry));
    }
    n.conf_history.emplace_back(entry.index, record->conf);
  }
}

bool InteractionEnv::deliver(const std::vector<NodeId>& to,
                             const std::set<NodeId>& drop,
                             std::ostringstream& out) {
  std::map<NodeId, std::vector<Message>> by_recipient;
  std::vector<Message> kept;
  for (Message& m : bus_) {
    if (to.empty() || std::find(to.begin(), to.end(), m.to) != to.end()) {
      by_recipient[m.to].push_back(std::move(m));
    } else {
      kept.push_back(std::move(m));
    }
  }
  bus_ = std::move(kept);
  for (const auto& [recipient, messages] : by_recipient) {
    out << "> " << recipient << " receiving messages\n";
    for (const Message& m : messages) {
      const std::string reason = drop_reason(m, drop);
      if (!reason.empty()) {
        dropped(m, reason, out);
        continue;
      }
      out << "  " << raft::describe(m) << '\n';
      nodes_.at(recipient).raft->step(m);
    }
  }
  return !by_recipient.empty();
}

std::string InteractionEnv::drop_reason(const Message& m,
                                        const std::set<NodeId>& drop) {
  if (drop.count(m.to) > 0) return "drop=";
  auto it = nodes_.find(m.to);
  if (it == nodes_.end()) return "no such node";
  if (!it->second.raft) return "crashed";
  if (isolated_.count(m.from) > 0 || isolated_.count(m.to) > 0) {
    return "isolated";
  }
  if (!group_.empty()) {
    const auto group = [&](NodeId id) {
      auto g = group_.find(id);
      return g == group_.end() ? 0 : g->second;
    };
    if (group(m.from) != group(m.to)) return "partitioned";
  }
  return "";
}

// A transport learns that a snapshot did not arrive and tells the sender.
void InteractionEnv::dropped(const Message& m, const std::string& reason,
                             std::ostringstream& out) {
  out << "  " << raft::describe(m) << " (dropped: " << reason << ")\n";
  if (m.type != raft::MessageType::kInstallSnapshot) return;
  auto sender = nodes_.find(m.from);
  if (sender == nodes_.end() || !sender->second.raft) return;
  sender->second.raft->report_snapshot(m.to, false);
  out << "  " << m.from << " told the snapshot to " << m.to << " failed\n";
}

void InteractionEnv::stabilize(const std::vector<NodeId>& ids,
                               std::ostringstream& out) {
  const std::vector<NodeId> nodes = ids.empty() ? node_ids() : ids;
  constexpr int kMaxRounds = 1000;
  for (int round = 0;; ++round) {
    if (round == kMaxRounds) {
      throw std::logic_error("stabilize: still busy after " +
                             std::to_string(kMaxRounds) + " rounds");
    }
    bool busy = false;
    for (NodeId id : nodes) {
      Node& n = node(id);
      if (n.raft && !n.in_flight && n.raft->has_ready()) {
        busy |= process_ready(id, true, out);
      }
    }
    busy |= deliver(ids, {}, out);
    if (!busy) return;
  }
}

void InteractionEnv::partition(const TestData& data) {
  group_.clear();
  int group = 1;
  for (const CmdArg& arg : data.args) {
    if (!arg.key.empty()) {
      throw std::invalid_argument("partition takes groups like (1 2) (3)");
    }
    for (const std::string& v : arg.vals)
      group_[to_uint(v, "partition")] = group;
    ++group;
  }
}

void InteractionEnv::crash(NodeId id, std::ostringstream& out) {
  Node& n = live_node(id);
  out << "> " << id << " crashed\n";
  const std::vector<raft::Entry>& unstable = n.raft->log().unstable_entries();
  if (!unstable.empty()) {
    out << "  lost unpersisted entries: " << raft::describe(unstable) << '\n';
  }
  if (n.in_flight && n.in_flight->hard_state) {
    out << "  lost unpersisted hard_state: "
        << raft::describe(*n.in_flight->hard_state) << '\n';
  }
  n.raft.reset();
  n.in_flight.reset();
  std::vector<Message> kept;
  for (Message& m : bus_) {
    if (m.to == id) {
      dropped(m, "crashed", out);
    } else {
      kept.push_back(std::move(m));
    }
  }
  bus_ = std::move(kept);
}

void InteractionEnv::compact(const TestData& data, std::ostringstream& out) {
  const std::vector<std::string> pos = positionals(data);
  const NodeId id = to_uint(positional(pos, 0, "ID"), "ID");
  Node& n = live_node(id);
  const Index index = pos.size() > 1 ? to_uint(pos[1], "INDEX") : n.applied;
  if (index > n.applied) {
    throw std::invalid_argument("cannot compact past the applied index " +
                                std::to_string(n.applied));
  }
  const raft::ConfState* conf = nullptr;
  for (const auto& [at, c] : n.conf_history) {
    if (at <= index) conf = &c;
  }
  if (conf == nullptr) {
    throw std::invalid_argument("no membership known at index " +
                                std::to_string(index));
  }
  if (!n.storage->create_snapshot(index, *conf,
                                  encode_state(n.applied_data, index))) {
    throw std::invalid_argument("cannot compact node " + std::to_string(id) +
                                " at index " + std::to_string(index));
  }
  const raft::SnapshotMeta& meta = n.storage->snapshot().meta;
  out << "> " << id << " compacted: snapshot index=" << meta.index
      << " term=" << meta.term << ' ' << raft::describe(meta.conf)
      << "; log starts at " << n.storage->first_index() << '\n';
}

void InteractionEnv::status(NodeId id, std::ostringstream& out) {
  const Node& n = node(id);
  if (!n.raft) {
    out << id << ": crashed\n";
    return;
  }
  const raft::Status s = n.raft->status();
  const bool leader = s.soft_state.role == raft::Role::kLeader;
  out << id << ": " << role_and_term(s.soft_state.role, s.hard_state.term)
      << " vote=" << s.hard_state.vote << " leader=" << s.soft_state.leader;
  if (leader) {
    out << " leader_ready=" << (s.soft_state.leader_ready ? "true" : "false")
        << " lease=" << (s.lease_valid ? "valid" : "none");
  }
  out << " commit=" << s.hard_state.commit << " applied=" << s.applied
      << " last=" << s.last_index << ' ' << raft::describe(s.conf) << '\n';
  for (const raft::PeerStatus& peer : s.peers) {
    const raft::Progress& pr = peer.progress;
    out << "  " << peer.id << ": " << (peer.voter ? "voter" : "learner")
        << " match=" << pr.match << " next=" << pr.next << ' '
        << raft::to_string(pr.state);
    if (pr.state == raft::ProgressState::kReplicate) {
      out << " inflight=" << pr.inflights.count();
      if (pr.inflights.bytes() > 0) {
        out << " inflight_bytes=" << pr.inflights.bytes();
      }
    }
    if (pr.state == raft::ProgressState::kSnapshot) {
      out << " pending_snapshot=" << pr.pending_snapshot;
    }
    if (pr.paused()) out << " paused";
    out << '\n';
  }
  if (s.transferee != raft::kNoNode) {
    out << "  transferring leadership to " << s.transferee << '\n';
  }
  if (s.malformed_messages != 0) {
    out << "  malformed messages dropped: " << s.malformed_messages << '\n';
  }
}

void InteractionEnv::raft_log(NodeId id, std::ostringstream& out) {
  const raft::MemoryStorage& storage = *node(id).storage;
  const raft::Snapshot snapshot = storage.snapshot();
  if (!snapshot.empty()) {
    out << "snapshot index=" << snapshot.meta.index
        << " term=" << snapshot.meta.term << ' '
        << raft::describe(snapshot.meta.conf) << '\n';
  }
  std::vector<raft::Entry> entries;
  if (storage.last_index() >= storage.first_index()) {
    storage.entries(storage.first_index(), storage.last_index() + 1,
                    std::numeric_limits<uint64_t>::max(), &entries);
  }
  if (snapshot.empty() && entries.empty()) out << "empty log\n";
  for (const raft::Entry& entry : entries) {
    out << raft::describe(entry) << '\n';
  }
}

std::string InteractionEnv::state_line(NodeId id) {
  const raft::Status s = live_node(id).raft->status();
  return std::to_string(id) + ": " +
         role_and_term(s.soft_state.role, s.hard_state.term) +
         " commit=" + std::to_string(s.hard_state.commit) +
         " applied=" + std::to_string(s.applied) +
         " last=" + std::to_string(s.last_index) + ' ' + raft::describe(s.conf);
}

std::vector<std::string> run_interaction_script(const std::string& path) {
  InteractionEnv env;
  return run_script(path,
                    [&](const TestData& data) { return env.handle(data); });
}

}  // namespace dengine::testkit
