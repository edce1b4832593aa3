// Linearizable reads: ReadIndex rounds shared by every waiting read and
// carried by appends and heartbeats, and the leader lease. The books are kept
// by ReadOnly (read_only.h); this file decides when rounds run and delivers
// their outcome as messages and Ready fields.
#include "raft/raft.h"

#include <optional>
#include <string>
#include <utility>

#include "raft/quorum.h"

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
    m.context = reads_.forward(std::move(context), now_);
    send(std::move(m));
    return {};
  }
  if (!leader_ready_) {
    // Until the no-op commits the leader does not know the commit index.
    reads_.add_before_ready(std::move(context), kNoNode);
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
    reads_.add_before_ready(std::move(context), requester);
    return;
  }
  reads_.add(std::move(context), requester, log_.committed());
}

void Raft::release_confirmed_reads() {
  const uint64_t confirmed = quorum::committed_index(conf_, [&](NodeId voter) {
    if (voter == id_) return reads_.round();
    const Progress* pr = progress(voter);
    return pr == nullptr ? uint64_t{0} : pr->acked_round;
  });
  if (confirmed == 0) return;
  for (PendingRead& read : reads_.confirm(confirmed)) {
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
}

bool Raft::lease_valid() const {
  return role_ == Role::kLeader && leader_ready_ && transferee_ == kNoNode &&
         reads_.lease_valid(now_);
}

// Reads this node was waiting on cannot complete under a new term or role:
// fail them now rather than leave clients to time out. Reads forwarded by
// followers are refused back to them.
void Raft::fail_pending_reads() {
  for (PendingRead& read : reads_.take_pending()) {
    if (read.requester == kNoNode) {
      failed_reads_.push_back({std::move(read.context), kNoNode});
      continue;
    }
    Message m;
    m.type = MessageType::kReadIndexResponse;
    m.to = read.requester;
    m.reject = true;
    m.context = std::move(read.context);
    send(std::move(m));
  }
  for (std::string& context : reads_.take_forwarded()) {
    failed_reads_.push_back({std::move(context), kNoNode});
  }
}

void Raft::expire_forwarded_reads() {
  for (std::string& context : reads_.expire_forwarded(now_)) {
    failed_reads_.push_back({std::move(context), leader_});
  }
}

void Raft::on_read_index_response(const Message& m) {
  std::optional<std::string> context = reads_.answer(m.context);
  if (!context.has_value()) return;
  if (m.reject) {
    failed_reads_.push_back({std::move(*context), leader_});
  } else {
    read_states_.push_back(ReadState{m.index, std::move(*context)});
  }
}

}  // namespace dengine::raft
