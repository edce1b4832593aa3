// Linearizable reads: ReadIndex rounds shared by every waiting read and
// carried by appends and heartbeats, and the leader lease.
#include "raft/raft.h"

#include <algorithm>
#include <utility>

namespace dengine::raft {

// ---------------------------------------------------------------------------
// Reads

Result Raft::read_index(std::string context, ReadMode mode) {
  if (role_ != Role::kLeader) {
    if (leader_ == kNoNode) return not_leader();
    Message m;
    m.type = MessageType::kReadIndex;
    m.to = leader_;
    m.term = term_;
    m.context = read_nonce_ + context;
    send(std::move(m));
    forwarded_reads_.push_back({std::move(context), now_});
    return {};
  }
  if (!leader_ready_) {
    // Until the no-op commits the leader does not know the commit index.
    reads_before_ready_.push_back({std::move(context), kNoNode, 0, 0});
    return {};
  }
  if (mode == ReadMode::kLease && lease_valid()) {
    read_states_.push_back(ReadState{log_.committed(), std::move(context)});
    return {};
  }
  add_read(std::move(context), kNoNode);
  return {};
}

void Raft::add_read(std::string context, NodeId requester) {
  if (!leader_ready_) {
    reads_before_ready_.push_back({std::move(context), requester, 0, 0});
    return;
  }
  // Confirmed by the first round that starts after this point.
  pending_reads_.push_back(
      {std::move(context), requester, log_.committed(), read_round_ + 1});
  read_round_wanted_ = true;
}

void Raft::start_read_round() {
  read_round_++;
  read_round_wanted_ = false;
  if (!config_.check_quorum) return;  // no lease without check-quorum
  round_start_tick_[read_round_] = now_;
  // A round older than an election timeout can no longer give a lease.
  const auto horizon = static_cast<uint64_t>(config_.election_tick);
  while (!round_start_tick_.empty() &&
         round_start_tick_.begin()->second + horizon <= now_) {
    round_start_tick_.erase(round_start_tick_.begin());
  }
}

void Raft::release_confirmed_reads() {
  std::vector<uint64_t> acked;
  for (NodeId voter : conf_.voters) {
    if (voter == id_) {
      acked.push_back(read_round_);
    } else {
      const Progress* pr = progress(voter);
      acked.push_back(pr == nullptr ? 0 : pr->acked_round);
    }
  }
  if (acked.empty()) return;
  std::sort(acked.begin(), acked.end(), std::greater<>());
  const uint64_t confirmed = acked[quorum() - 1];
  if (confirmed == 0) return;

  // A quorum acknowledged a message sent at the start of `confirmed`; no other
  // leader can be elected until an election timeout after that tick.
  auto it = round_start_tick_.find(confirmed);
  if (it != round_start_tick_.end()) {
    lease_start_ = std::max(lease_start_, it->second);
    lease_held_ = true;
  }
  round_start_tick_.erase(round_start_tick_.begin(),
                          round_start_tick_.upper_bound(confirmed));

  size_t done = 0;
  for (; done < pending_reads_.size(); done++) {
    PendingRead& read = pending_reads_[done];
    if (read.round > confirmed) break;
    if (read.requester == kNoNode) {
      read_states_.push_back(ReadState{read.index, std::move(read.context)});
    } else {
      Message m;
      m.type = MessageType::kReadIndexResponse;
      m.to = read.requester;
      m.index = read.index;
      m.context = std::move(read.context);
      send(std::move(m));
    }
  }
  pending_reads_.erase(
      pending_reads_.begin(),
      pending_reads_.begin() + static_cast<std::ptrdiff_t>(done));
}

bool Raft::lease_valid() const {
  if (role_ != Role::kLeader || !leader_ready_ || !lease_held_ ||
      lease_forfeited_ || !config_.check_quorum || transferee_ != kNoNode) {
    return false;
  }
  const auto length =
      static_cast<uint64_t>(config_.election_tick - config_.lease_drift_ticks);
  return now_ < lease_start_ + length;
}

// Reads this node was waiting on cannot complete under a new term or role:
// fail them now rather than leave clients to time out. Reads forwarded by
// followers are refused back to them.
void Raft::fail_pending_reads() {
  auto fail = [this](PendingRead& read) {
    if (read.requester == kNoNode) {
      failed_reads_.push_back({std::move(read.context), kNoNode});
      return;
    }
    Message m;
    m.type = MessageType::kReadIndexResponse;
    m.to = read.requester;
    m.reject = true;
    m.context = std::move(read.context);
    send(std::move(m));
  };
  for (PendingRead& read : reads_before_ready_) fail(read);
  for (PendingRead& read : pending_reads_) fail(read);
  reads_before_ready_.clear();
  pending_reads_.clear();
  for (ForwardedRead& read : forwarded_reads_) {
    failed_reads_.push_back({std::move(read.context), kNoNode});
  }
  forwarded_reads_.clear();
}

// A forwarded read whose answer was lost would otherwise wait forever.
void Raft::expire_forwarded_reads() {
  const auto limit = 2 * static_cast<uint64_t>(config_.election_tick);
  auto expired = [&](const ForwardedRead& read) {
    return read.sent_at + limit <= now_;
  };
  for (ForwardedRead& read : forwarded_reads_) {
    if (expired(read)) failed_reads_.push_back({read.context, leader_});
  }
  std::erase_if(forwarded_reads_, expired);
}

void Raft::on_read_index_response(const Message& m) {
  // An answer to an earlier instance of this node: not ours.
  if (!m.context.starts_with(read_nonce_)) return;
  const std::string context = m.context.substr(read_nonce_.size());
  auto it = std::find_if(
      forwarded_reads_.begin(), forwarded_reads_.end(),
      [&](const ForwardedRead& read) { return read.context == context; });
  if (it == forwarded_reads_.end()) return;  // already failed, or a duplicate
  forwarded_reads_.erase(it);
  if (m.reject) {
    failed_reads_.push_back({context, leader_});
  } else {
    read_states_.push_back(ReadState{m.index, context});
  }
}

}  // namespace dengine::raft
