#include "testkit/sim_cluster.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "raft/conf_change.h"
#include "raft/describe.h"

namespace dengine::testkit {

using raft::Entry;
using raft::Index;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Ready;
using raft::Result;

namespace {

std::string name(NodeId id) { return "n" + std::to_string(id); }

}  // namespace

void SimStats::add(const SimStats& o) {
  messages_sent += o.messages_sent;
  messages_dropped += o.messages_dropped;
  messages_duplicated += o.messages_duplicated;
  leaders_elected += o.leaders_elected;
  disk_writes += o.disk_writes;
  writes_lost += o.writes_lost;
  entries_applied += o.entries_applied;
  snapshots_created += o.snapshots_created;
  snapshots_installed += o.snapshots_installed;
  crashes += o.crashes;
  reads_confirmed += o.reads_confirmed;
  reads_served += o.reads_served;
  proposals += o.proposals;
  proposals_acknowledged += o.proposals_acknowledged;
  conf_changes_proposed += o.conf_changes_proposed;
  conf_changes_applied += o.conf_changes_applied;
  transfers += o.transfers;
}

SimCluster::SimCluster(const SimClusterOptions& options, uint64_t seed,
                       SimRandom* rng, SimChecker* checker, SimTrace* trace)
    : options_(options),
      seed_(seed),
      rng_(rng),
      checker_(checker),
      trace_(trace),
      network_(rng, options.network),
      nodes_(1) {
  std::vector<NodeId> voters;
  for (int i = 1; i <= options_.voters; ++i) voters.push_back(i);
  for (int i = 1; i <= options_.voters; ++i) create_node(voters);
  for (int i = 1; i <= options_.voters; ++i) start(*nodes_[i]);
}

SimCluster::~SimCluster() = default;

void SimCluster::trace(const std::string& line) {
  if (trace_ != nullptr) trace_->add(now_, line);
}

// --- the clock ---

void SimCluster::schedule(int64_t time, EventKind kind, NodeId node,
                          uint64_t incarnation, uint32_t slot) {
  events_.push(Event{time, next_seq_++, kind, node, incarnation, slot});
}

void SimCluster::at(int64_t time, std::function<void()> call) {
  uint32_t slot;
  if (free_calls_.empty()) {
    slot = static_cast<uint32_t>(calls_.size());
    calls_.push_back(std::move(call));
  } else {
    slot = free_calls_.back();
    free_calls_.pop_back();
    calls_[slot] = std::move(call);
  }
  schedule(std::max(time, now_), EventKind::kCall, raft::kNoNode, 0, slot);
}

void SimCluster::run_until(int64_t until) {
  while (!stopped_ && checker_->ok() && !events_.empty() &&
         events_.top().time <= until) {
    const Event event = events_.top();
    events_.pop();
    now_ = event.time;
    dispatch(event);
  }
  if (!stopped_ && checker_->ok()) now_ = std::max(now_, until);
}

bool SimCluster::alive(const SimNode* n, uint64_t incarnation) const {
  return n != nullptr && n->up && n->incarnation == incarnation;
}

void SimCluster::dispatch(const Event& event) {
  switch (event.kind) {
    case EventKind::kTick: {
      SimNode* n = node(event.node);
      if (!alive(n, event.incarnation)) return;
      n->raft->tick();
      after_input(*n);
      schedule(event.time + n->tick_us, EventKind::kTick, n->id, n->incarnation,
               0);
      return;
    }
    case EventKind::kDeliver: {
      Message m = std::move(messages_[event.slot]);
      free_messages_.push_back(event.slot);
      SimNode* to = node(m.to);
      if (to == nullptr || !to->up) {
        stats_.messages_dropped++;
        if (tracing()) trace("drop (node down) " + raft::describe(m));
        report_send_failure(m, true);
        return;
      }
      if (tracing()) trace("deliver " + raft::describe(m));
      to->raft->step(m);
      after_input(*to);
      if (m.type == MessageType::kInstallSnapshot) report_snapshot_sent(m);
      return;
    }
    case EventKind::kDiskWrite: {
      SimNode* n = node(event.node);
      if (!alive(n, event.incarnation) || !n->writing) return;
      Ready rd = std::move(*n->writing);
      n->writing.reset();
      finish_ready(*n, rd);
      if (n->up) after_input(*n);
      return;
    }
    case EventKind::kCall: {
      std::function<void()> call = std::move(calls_[event.slot]);
      calls_[event.slot] = nullptr;
      free_calls_.push_back(event.slot);
      call();
      return;
    }
  }
}

// --- nodes ---

SimNode& SimCluster::create_node(std::vector<NodeId> bootstrap_voters) {
  auto n = std::make_unique<SimNode>();
  n->id = nodes_.size();
  n->bootstrap_voters = std::move(bootstrap_voters);
  const Index interval = std::max<Index>(2, options_.snapshot_interval);
  n->snapshot_interval = interval / 2 + rng_->below(interval + 1);
  const auto skew = static_cast<int64_t>(static_cast<double>(options_.tick_us) *
                                         options_.max_clock_skew);
  n->tick_us = options_.tick_us + rng_->between(-skew, skew);
  nodes_.push_back(std::move(n));
  return *nodes_.back();
}

NodeId SimCluster::add_node() {
  SimNode& n = create_node({});
  trace("new node " + name(n.id) + " (empty storage)");
  start(n);
  return n.id;
}

void SimCluster::start(SimNode& n) {
  n.incarnation++;
  n.up = true;
  n.writing.reset();
  n.reads_waiting.clear();
  n.next_read = 0;
  std::erase_if(read_floors_,
                [&](const auto& read) { return read.first.first == n.id; });
  n.soft_state = raft::SoftState{};
  n.leader_term = 0;

  const raft::Snapshot snapshot = n.storage.snapshot();
  raft::Config config;
  config.id = n.id;
  config.election_tick = options_.election_tick;
  config.heartbeat_tick = options_.heartbeat_tick;
  config.max_msg_bytes = options_.max_msg_bytes;
  config.max_inflight_msgs = options_.max_inflight_msgs;
  // The state machine is rebuilt from the snapshot; later entries replay.
  config.applied = snapshot.meta.index;
  config.bootstrap_voters = n.bootstrap_voters;
  config.seed = mix_seed(seed_, n.id * 1'000'003 + n.incarnation);
  std::string error;
  n.raft = raft::Raft::create(config, &n.storage, &error);
  if (n.raft == nullptr) {
    n.up = false;
    checker_->fail("restart: " + name(n.id) + " cannot start: " + error);
    return;
  }
  n.state_machine.reset();
  n.applied_conf = snapshot.meta.conf;
  if (!snapshot.empty()) {
    if (!n.state_machine.restore(snapshot.data)) {
      checker_->fail("restart: " + name(n.id) +
                     " holds a snapshot with malformed data");
      return;
    }
    checker_->on_state_restored(n.id, n.incarnation, n.state_machine.applied(),
                                n.state_machine.hash());
  }
  if (tracing()) {
    trace("start " + name(n.id) + " (life " + std::to_string(n.incarnation) +
          ") snapshot=" + std::to_string(snapshot.meta.index) + " log=[" +
          std::to_string(n.storage.first_index()) + "," +
          std::to_string(n.storage.last_index()) + "] " +
          raft::describe(n.storage.initial_state().hard_state));
  }
  // Each node ticks at the same rate but with its own phase.
  schedule(now_ + 1 + static_cast<int64_t>(rng_->below(n.tick_us)),
           EventKind::kTick, n.id, n.incarnation, 0);
  after_input(n);
}

void SimCluster::crash(NodeId id) {
  SimNode* n = node(id);
  if (n == nullptr || !n->up) return;
  if (n->writing) stats_.writes_lost++;
  if (n->leader_term != 0) checker_->on_leader_lost(id);
  if (tracing()) {
    trace("crash " + name(id) +
          (n->writing ? " (losing a disk write in progress)" : ""));
  }
  n->up = false;
  n->raft.reset();
  n->writing.reset();
  n->reads_waiting.clear();
  n->state_machine.reset();
  n->leader_term = 0;
  stats_.crashes++;
}

void SimCluster::restart(NodeId id) {
  SimNode* n = node(id);
  if (n == nullptr || n->up || n->decommissioned) return;
  start(*n);
}

void SimCluster::decommission(NodeId id) {
  SimNode* n = node(id);
  if (n == nullptr || n->decommissioned) return;
  if (n->up) {
    if (n->leader_term != 0) checker_->on_leader_lost(id);
    n->up = false;
    n->raft.reset();
    n->writing.reset();
  }
  n->decommissioned = true;
  trace("decommission " + name(id));
}

SimNode* SimCluster::node(NodeId id) {
  return id < nodes_.size() ? nodes_[id].get() : nullptr;
}

const SimNode* SimCluster::node(NodeId id) const {
  return id < nodes_.size() ? nodes_[id].get() : nullptr;
}

std::vector<NodeId> SimCluster::node_ids() const {
  std::vector<NodeId> ids;
  for (NodeId id = 1; id < nodes_.size(); ++id) ids.push_back(id);
  return ids;
}

std::vector<NodeId> SimCluster::up_nodes() const {
  std::vector<NodeId> ids;
  for (NodeId id = 1; id < nodes_.size(); ++id) {
    if (nodes_[id]->up) ids.push_back(id);
  }
  return ids;
}

NodeId SimCluster::leader() const {
  NodeId best = raft::kNoNode;
  raft::Term best_term = 0;
  for (NodeId id = 1; id < nodes_.size(); ++id) {
    const SimNode& n = *nodes_[id];
    if (n.up && n.raft->role() == raft::Role::kLeader &&
        n.raft->term() > best_term) {
      best = id;
      best_term = n.raft->term();
    }
  }
  return best;
}

bool SimCluster::leader_ready(NodeId id) const {
  const SimNode* n = node(id);
  return n != nullptr && n->up && n->raft->role() == raft::Role::kLeader &&
         n->soft_state.role == raft::Role::kLeader &&
         n->soft_state.leader_ready;
}

std::string SimCluster::describe_nodes() const {
  std::string out;
  for (NodeId id = 1; id < nodes_.size(); ++id) {
    const SimNode& n = *nodes_[id];
    out += "  " + name(id);
    if (n.decommissioned) {
      out += " decommissioned\n";
      continue;
    }
    if (!n.up) {
      out += " down\n";
      continue;
    }
    const raft::Raft& r = *n.raft;
    out += std::string(" ") + raft::to_string(r.role()) +
           " term=" + std::to_string(r.term()) +
           " leader=" + std::to_string(r.leader()) +
           " commit=" + std::to_string(r.log().committed()) +
           " applied=" + std::to_string(n.state_machine.applied()) + " log=[" +
           std::to_string(r.log().first_index()) + "," +
           std::to_string(r.log().last_index()) +
           "] conf=" + raft::describe(r.conf()) +
           (n.writing ? " writing" : "") + "\n";
    for (const raft::PeerStatus& peer : r.status().peers) {
      const raft::Progress& pr = peer.progress;
      out += "    peer " + name(peer.id) + " " + raft::to_string(pr.state) +
             " match=" + std::to_string(pr.match) +
             " next=" + std::to_string(pr.next) +
             " inflight=" + std::to_string(pr.inflights.count()) +
             (pr.probe_sent ? " probe_sent" : "") +
             (pr.pending_snapshot != 0
                  ? " pending_snapshot=" + std::to_string(pr.pending_snapshot)
                  : "") +
             (pr.recent_active ? " active" : "") + "\n";
    }
  }
  return out;
}

// --- requests ---

Result SimCluster::propose(NodeId id, std::string data) {
  SimNode& n = *node(id);
  if (tracing()) trace(name(id) + " propose \"" + data + "\"");
  const Result result = n.raft->propose(std::move(data));
  if (result.ok()) stats_.proposals++;
  if (tracing()) {
    trace(std::string("  -> ") + raft::to_string(result.code) +
          (result.ok() ? " at " + std::to_string(result.term) + "/" +
                             std::to_string(result.index)
                       : ""));
  }
  after_input(n);
  return result;
}

Result SimCluster::propose_conf_change(NodeId id,
                                       const raft::ConfChange& change) {
  SimNode& n = *node(id);
  const Result result = n.raft->propose_conf_change(change);
  if (result.ok()) stats_.conf_changes_proposed++;
  if (tracing()) {
    trace(name(id) + " propose " + raft::to_string(change.type) + " " +
          name(change.node) + " -> " + raft::to_string(result.code) + " " +
          result.message);
  }
  after_input(n);
  return result;
}

Result SimCluster::read_index(NodeId id, raft::ReadMode mode) {
  SimNode& n = *node(id);
  std::string context = "read." + std::to_string(++n.next_read);
  const Index floor = checker_->read_floor();
  if (tracing()) {
    trace(name(id) + " read_index " + context +
          (mode == raft::ReadMode::kLease ? " (lease)" : "") +
          " floor=" + std::to_string(floor));
  }
  const Result result = n.raft->read_index(context, mode);
  if (result.ok()) read_floors_[{id, std::move(context)}] = floor;
  after_input(n);
  return result;
}

Result SimCluster::transfer_leadership(NodeId id, NodeId to) {
  SimNode& n = *node(id);
  const Result result = n.raft->transfer_leadership(to);
  if (result.ok()) stats_.transfers++;
  if (tracing()) {
    trace(name(id) + " transfer_leadership to " + name(to) + " -> " +
          raft::to_string(result.code));
  }
  after_input(n);
  return result;
}

// --- the host loop of one node ---

void SimCluster::after_input(SimNode& n) {
  if (!n.up) return;
  observe(n);
  pump(n);
}

void SimCluster::observe(SimNode& n) {
  const raft::Raft& r = *n.raft;
  if (r.role() == raft::Role::kLeader) {
    if (n.leader_term != r.term()) {
      n.leader_term = r.term();
      n.leader_commit = r.log().committed();
      stats_.leaders_elected++;
      checker_->on_leader(n.id, r.term(), &r.log());
    } else if (r.log().committed() > n.leader_commit) {
      // Only a leader decides commits: these entries committed in its term.
      checker_->on_leader_commit(n.id, r.term(), r.log(), n.leader_commit,
                                 r.log().committed());
      n.leader_commit = r.log().committed();
    }
  } else if (n.leader_term != 0) {
    n.leader_term = 0;
    checker_->on_leader_lost(n.id);
  }
  checker_->on_commit(n.id, n.incarnation, r.log().committed());
}

void SimCluster::pump(SimNode& n) {
  while (n.up && !n.writing && checker_->ok() && n.raft->has_ready()) {
    Ready rd = n.raft->ready();
    if (tracing()) trace(name(n.id) + " ready " + raft::describe(rd));
    if (rd.soft_state) n.soft_state = *rd.soft_state;
    check_durable_term(n, rd.messages);
    send(rd.messages);
    if (rd.snapshot || !rd.entries.empty() || rd.hard_state) {
      // The write takes time; a crash before it completes loses it.
      stats_.disk_writes++;
      const int64_t latency =
          rng_->between(options_.min_disk_us, options_.max_disk_us);
      n.writing = std::move(rd);
      schedule(now_ + latency, EventKind::kDiskWrite, n.id, n.incarnation, 0);
      return;
    }
    finish_ready(n, rd);
    if (n.up) observe(n);
  }
}

// A node may speak in a term only once that term is durable (else a crash
// could let it reuse the term with a different log); pre-votes change no
// state and are exempt.
void SimCluster::check_durable_term(const SimNode& n,
                                    const std::vector<Message>& messages) {
  const raft::Term durable = n.storage.initial_state().hard_state.term;
  for (const Message& m : messages) {
    if (m.type == MessageType::kPreVote ||
        m.type == MessageType::kPreVoteResponse || m.term <= durable) {
      continue;
    }
    checker_->fail("durability: " + name(n.id) + " sent " + raft::describe(m) +
                   " before its term " + std::to_string(m.term) +
                   " was durable (stored term " + std::to_string(durable) +
                   ")");
    return;
  }
}

// Steps 2-5 of the Ready contract (raft/types.h), then advance().
void SimCluster::finish_ready(SimNode& n, Ready& rd) {
  if (rd.snapshot && !n.storage.apply_snapshot(*rd.snapshot)) {
    checker_->fail("snapshot install: " + name(n.id) +
                   " was asked to install snapshot " +
                   std::to_string(rd.snapshot->meta.index) +
                   " older than its stored snapshot " +
                   std::to_string(n.storage.first_index() - 1));
    return;
  }
  if (!rd.entries.empty()) {
    n.storage.append(rd.entries);
    checker_->on_persisted(n.id, rd.entries, n.storage);
  }
  if (rd.hard_state) {
    checker_->on_hard_state(n.id, n.storage.initial_state().hard_state,
                            *rd.hard_state);
    n.storage.set_hard_state(*rd.hard_state);
  }
  send(rd.messages_after_persist);
  if (rd.snapshot) install_snapshot(n, *rd.snapshot);
  for (const Entry& entry : rd.committed_entries) apply(n, entry);
  for (raft::ReadState& read : rd.read_states) {
    auto it = read_floors_.find({n.id, read.context});
    if (it == read_floors_.end()) {
      checker_->fail("linearizable read: " + name(n.id) + " confirmed read \"" +
                     read.context + "\" that nobody requested");
      continue;
    }
    checker_->on_read_state(n.id, read, it->second);
    stats_.reads_confirmed++;
    n.reads_waiting.push_back(std::move(read));
  }
  serve_reads(n);
  n.raft->advance(rd);
  maybe_compact(n);
}

void SimCluster::install_snapshot(SimNode& n, const raft::Snapshot& snapshot) {
  if (!n.state_machine.restore(snapshot.data) ||
      n.state_machine.applied() != snapshot.meta.index) {
    checker_->fail("snapshot install: " + name(n.id) + " got snapshot " +
                   std::to_string(snapshot.meta.index) +
                   " whose data does not describe that index");
    return;
  }
  n.applied_conf = snapshot.meta.conf;
  stats_.snapshots_installed++;
  checker_->on_state_restored(n.id, n.incarnation, n.state_machine.applied(),
                              n.state_machine.hash());
}

void SimCluster::apply(SimNode& n, const Entry& entry) {
  n.state_machine.apply(entry);
  stats_.entries_applied++;
  checker_->on_apply(n.id, n.incarnation, entry, n.state_machine.hash());
  if (entry.type == raft::EntryType::kConfChange) {
    const std::optional<raft::ConfChangeRecord> record =
        raft::decode_conf_change(entry.data);
    if (!record) {
      checker_->fail("membership: " + name(n.id) +
                     " applied an undecodable membership entry at " +
                     std::to_string(entry.index));
      return;
    }
    n.applied_conf = record->conf;
    if (record->change.type != raft::ConfChangeType::kBootstrap) {
      stats_.conf_changes_applied++;
    }
    const NodeId removed = record->change.node;
    SimNode* gone = node(removed);
    if (record->change.type == raft::ConfChangeType::kRemoveNode &&
        gone != nullptr && !gone->decommission_scheduled) {
      // The removal is committed: the operator shuts the node down soon after
      // (a removed leader first gets to step down on its own).
      gone->decommission_scheduled = true;
      const int64_t grace = static_cast<int64_t>(
          rng_->below(2 * options_.election_tick * options_.tick_us));
      at(now_ + grace, [this, removed] { decommission(removed); });
    }
  }
  if (apply_listener_) apply_listener_(n, entry);
}

void SimCluster::serve_reads(SimNode& n) {
  const Index applied = n.state_machine.applied();
  stats_.reads_served += std::erase_if(
      n.reads_waiting,
      [applied](const raft::ReadState& read) { return read.index <= applied; });
}

void SimCluster::maybe_compact(SimNode& n) {
  const Index snapshot_index = n.storage.first_index() - 1;
  const Index applied = n.state_machine.applied();
  if (applied < snapshot_index + n.snapshot_interval ||
      applied > n.storage.last_index()) {
    return;
  }
  n.storage.create_snapshot(applied, n.applied_conf,
                            n.state_machine.serialize());
  stats_.snapshots_created++;
  if (tracing()) {
    trace(name(n.id) + " snapshot at " + std::to_string(applied) + " conf " +
          raft::describe(n.applied_conf));
  }
}

void SimCluster::send(std::vector<Message>& messages) {
  for (Message& m : messages) {
    stats_.messages_sent++;
    const NodeId to = m.to;
    const Route route = network_.route(m.from, m.to);
    if (route.dropped != nullptr) {
      stats_.messages_dropped++;
      if (tracing()) {
        trace(std::string("drop (") + route.dropped + ") " + raft::describe(m));
      }
      report_send_failure(m, route.dropped != std::string_view("loss"));
      continue;
    }
    if (route.copies == 2) stats_.messages_duplicated++;
    for (int copy = 0; copy < route.copies; ++copy) {
      uint32_t slot;
      if (free_messages_.empty()) {
        slot = static_cast<uint32_t>(messages_.size());
        messages_.emplace_back();
      } else {
        slot = free_messages_.back();
        free_messages_.pop_back();
      }
      messages_[slot] = copy + 1 == route.copies ? std::move(m) : m;
      schedule(now_ + route.delay_us[copy], EventKind::kDeliver, to, 0, slot);
    }
  }
}

// What a transport learns about a message that did not get through: a
// snapshot stream always reports its failure (the core must then retry); a
// broken connection (partition, peer down) makes the peer unreachable; plain
// loss goes unnoticed.
void SimCluster::report_send_failure(const Message& m, bool connection_lost) {
  const bool snapshot = m.type == MessageType::kInstallSnapshot;
  if (!snapshot && !connection_lost) return;
  const NodeId sender = m.from;
  const NodeId peer = m.to;
  at(now_ + options_.network.max_delay_us, [this, sender, peer, snapshot] {
    SimNode* n = node(sender);
    if (n == nullptr || !n->up) return;
    if (snapshot) {
      if (tracing()) {
        trace(name(sender) + " report_snapshot(" + name(peer) + ", failed)");
      }
      n->raft->report_snapshot(peer, false);
    } else {
      if (tracing())
        trace(name(sender) + " report_unreachable(" + name(peer) + ")");
      n->raft->report_unreachable(peer);
    }
    after_input(*n);
  });
}

// A snapshot stream that reached its peer completes on the sender's side too;
// whether the peer then installs it is learned from its answers.
void SimCluster::report_snapshot_sent(const Message& m) {
  const NodeId sender = m.from;
  const NodeId peer = m.to;
  at(now_ + options_.network.max_delay_us, [this, sender, peer] {
    SimNode* n = node(sender);
    if (n == nullptr || !n->up) return;
    if (tracing())
      trace(name(sender) + " report_snapshot(" + name(peer) + ", ok)");
    n->raft->report_snapshot(peer, true);
    after_input(*n);
  });
}

}  // namespace dengine::testkit
