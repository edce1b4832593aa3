// Log replication: the follower side of AppendEntries and InstallSnapshot,
// and the leader side: per-follower progress, flow control, commit.
#include "raft/raft.h"

#include <algorithm>
#include <utility>

#include "raft/quorum.h"

namespace dengine::raft {

namespace {

uint64_t data_bytes(const std::vector<Entry>& entries) {
  uint64_t bytes = 0;
  for (const Entry& e : entries) bytes += e.data.size();
  return bytes;
}

}  // namespace

// ---------------------------------------------------------------------------
// Follower side of replication

void Raft::handle_append(const Message& m) {
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = m.from;
  reply.read_round = m.read_round;
  if (m.index < log_.committed()) {
    reply.index = log_.committed();
    send(std::move(reply));
    return;
  }
  if (log_.match_term(m.index, m.log_term)) {
    const Index conflict = log_.append_after(m.index, m.entries);
    if (conflict != 0) {
      on_log_truncated(conflict);
      on_entries_appended(std::vector<Entry>(
          m.entries.begin() +
              static_cast<std::ptrdiff_t>(conflict - m.index - 1),
          m.entries.end()));
    }
    const Index last_new = m.index + m.entries.size();
    commit_to(std::min(m.commit, last_new));
    reply.index = last_new;
  } else {
    // Fast backtracking: point the leader at the last index whose term is not
    // above the one it asked about, so it skips a whole term per round trip.
    const Index hint = log_.find_conflict_by_term(
        std::min(m.index, log_.last_index()), m.log_term);
    reply.reject = true;
    reply.index = m.index;
    reply.reject_hint = hint;
    reply.log_term = log_.term(hint).value_or(0);
  }
  send(std::move(reply));
}

void Raft::handle_heartbeat(const Message& m) {
  commit_to(std::min(m.commit, log_.last_index()));
  Message reply;
  reply.type = MessageType::kHeartbeatResponse;
  reply.to = m.from;
  // Sent only once durable, and committed entries match every later leader's.
  reply.commit = log_.committed();
  reply.read_round = m.read_round;
  send(std::move(reply));
}

void Raft::handle_install_snapshot(const Message& m) {
  const SnapshotMeta& meta = m.snapshot->meta;
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.to = m.from;
  if (meta.index <= log_.committed()) {
    reply.index = log_.committed();
  } else if (log_.match_term(meta.index, meta.term)) {
    // We already hold the snapshot's entries; only the commit was missing.
    commit_to(meta.index);
    reply.index = meta.index;
  } else {
    log_.restore_snapshot(*m.snapshot);
    conf_history_ = {{meta.index, meta.conf}};
    conf_ = meta.conf;
    reply.index = meta.index;
  }
  send(std::move(reply));
}

void Raft::commit_to(Index index) {
  if (index <= log_.committed()) return;
  log_.commit_to(index);
  prune_conf_history();
}

// ---------------------------------------------------------------------------
// Leader side of replication

Progress* Raft::progress(NodeId id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

void Raft::rebuild_progress() {
  std::map<NodeId, Progress> next;
  auto add = [&](NodeId id) {
    auto it = progress_.find(id);
    if (it != progress_.end()) {
      next.emplace(id, std::move(it->second));
      return;
    }
    Progress pr(log_.last_index() + 1, config_.max_inflight_msgs,
                config_.max_inflight_bytes);
    pr.recent_active = true;
    if (id == id_) {
      pr.match = log_.stable_last_index();
      pr.become_replicate();
      pr.next = log_.last_index() + 1;
    }
    next.emplace(id, std::move(pr));
  };
  for (NodeId id : conf_.voters) add(id);
  for (NodeId id : conf_.learners) add(id);
  // A leader removed by an uncommitted change still tracks itself.
  if (!conf_.contains(id_)) add(id_);
  progress_ = std::move(next);
}

void Raft::append_entry(Entry entry) {
  entry.term = term_;
  entry.index = log_.last_index() + 1;
  std::vector<Entry> entries{std::move(entry)};
  log_.append(entries);
  on_entries_appended(entries);
  broadcast_wanted_ = true;
}

bool Raft::send_append(NodeId to, bool send_if_empty) {
  Progress* pr = progress(to);
  if (pr == nullptr || pr->paused()) return false;
  const Index prev = pr->next - 1;
  const std::optional<Term> prev_term = log_.term(prev);
  std::optional<std::vector<Entry>> entries;
  if (prev_term.has_value()) {
    entries =
        pr->next <= log_.last_index()
            ? log_.slice(pr->next, log_.last_index() + 1, config_.max_msg_bytes)
            : std::vector<Entry>{};
  }
  if (!entries.has_value()) return send_snapshot(to, *pr);
  if (entries->empty() && !send_if_empty) return false;

  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  m.read_round = reads_.round();
  if (!entries->empty()) {
    pr->sent_entries(entries->back().index, data_bytes(*entries));
  } else if (pr->state == ProgressState::kProbe) {
    pr->probe_sent = true;
  }
  m.entries = std::move(*entries);
  send(std::move(m));
  return true;
}

// The entries `pr` needs are compacted: ship the latest snapshot instead.
bool Raft::send_snapshot(NodeId to, Progress& pr) {
  Snapshot snapshot = storage_->snapshot();
  if (snapshot.empty()) return false;
  pr.become_snapshot(snapshot.meta.index);
  Message m;
  m.type = MessageType::kInstallSnapshot;
  m.to = to;
  m.snapshot = std::move(snapshot);
  send(std::move(m));
  return true;
}

void Raft::send_heartbeat(NodeId to) {
  const Progress* pr = progress(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  // A follower may not yet hold the leader's whole committed prefix.
  m.commit = std::min(pr->match, log_.committed());
  m.read_round = reads_.round();
  send(std::move(m));
}

void Raft::replicate_to_all(bool heartbeat_if_idle) {
  for (auto& [id, pr] : progress_) {
    if (id == id_) continue;
    if (!send_append(id, true)) {
      if (heartbeat_if_idle) send_heartbeat(id);
      continue;
    }
    // Pipeline whatever else fits in the inflight window.
    while (pr.state == ProgressState::kReplicate && send_append(id, false)) {
    }
  }
}

void Raft::broadcast_heartbeat() {
  // Every heartbeat is also a read round: it renews the lease.
  reads_.start_round(now_);
  for (const auto& [id, pr] : progress_) {
    if (id != id_) send_heartbeat(id);
  }
  release_confirmed_reads();
}

void Raft::handle_append_response(const Message& m, Progress& pr) {
  if (!m.reject) {
    handle_append_ack(m.from, pr, m.index);
    return;
  }
  Index probe = m.reject_hint;
  if (m.log_term > 0) probe = log_.find_conflict_by_term(probe, m.log_term);
  if (pr.maybe_decrease(m.index, probe + 1)) {
    if (pr.state == ProgressState::kReplicate) pr.become_probe();
    send_append(m.from, true);
  }
}

// `from` holds our log up to `index`, durably.
void Raft::handle_append_ack(NodeId from, Progress& pr, Index index) {
  const bool was_paused = pr.paused();
  const bool updated = pr.maybe_update(index);
  switch (pr.state) {
    case ProgressState::kProbe:
      // The probe point is confirmed: from here on, stream.
      if (pr.match + 1 >= pr.next) pr.become_replicate();
      break;
    case ProgressState::kSnapshot:
      if (pr.match >= pr.pending_snapshot) pr.become_replicate();
      break;
    case ProgressState::kReplicate:
      pr.inflights.free_to(index);
      break;
  }
  if (!updated) {
    if (was_paused && !pr.paused()) send_append(from, false);
    return;
  }
  if (maybe_commit()) {
    broadcast_wanted_ = true;
  } else if (was_paused || pr.state == ProgressState::kReplicate) {
    while (send_append(from, false)) {
    }
  }
  if (from == transferee_ && pr.match == log_.last_index()) {
    send_timeout_now(from);
  }
}

bool Raft::maybe_commit() {
  const Index candidate = quorum::committed_index(conf_, [&](NodeId voter) {
    const Progress* pr = progress(voter);
    return pr == nullptr ? 0 : pr->match;
  });
  // Only an entry of the current term commits by counting (thesis 3.6.2).
  if (candidate <= log_.committed() || log_.term(candidate) != term_) {
    return false;
  }
  commit_to(candidate);
  on_leader_commit();
  return true;
}

void Raft::on_leader_commit() {
  if (!leader_ready_ && log_.term(log_.committed()) == term_) {
    leader_ready_ = true;
    reads_.leader_ready(log_.committed());
  }
  // A leader that removed itself hands over once the removal commits
  // (thesis 4.2.2).
  if (!conf_.is_voter(id_) && conf_history_.back().first <= log_.committed()) {
    become_follower(term_, kNoNode);
  }
}

}  // namespace dengine::raft
