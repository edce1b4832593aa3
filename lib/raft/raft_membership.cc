// Membership changes, one server at a time (see conf_change.h).
#include "raft/raft.h"

#include <algorithm>
#include <utility>

namespace dengine::raft {

// ---------------------------------------------------------------------------
// Proposing a change

Result Raft::propose_conf_change(const ConfChange& change) {
  if (role_ != Role::kLeader) return not_leader();
  if (transferee_ != kNoNode) {
    return {Code::kTransferInProgress, kNoNode, 0, 0,
            "leadership is moving to node " + std::to_string(transferee_)};
  }
  if (!leader_ready_) {
    return {Code::kLeaderNotReady, kNoNode, 0, 0,
            "the leader has not yet committed an entry of its term"};
  }
  if (conf_history_.back().first > log_.committed()) {
    return {Code::kConfChangePending, kNoNode, 0, 0,
            "the membership change at index " +
                std::to_string(conf_history_.back().first) +
                " has not committed yet"};
  }
  if (change.type == ConfChangeType::kBootstrap) {
    return {Code::kInvalidConfChange, kNoNode, 0, 0,
            "bootstrap is not a change that can be proposed"};
  }
  ConfState next;
  std::string why = apply_conf_change(conf_, change, &next);
  if (!why.empty()) return {Code::kInvalidConfChange, kNoNode, 0, 0, why};
  if (change.type == ConfChangeType::kPromoteLearner) {
    const Progress* pr = progress(change.node);
    if (pr == nullptr || pr->match < log_.committed()) {
      return {Code::kLearnerNotCaughtUp, kNoNode, 0, 0,
              "learner " + std::to_string(change.node) + " has index " +
                  std::to_string(pr == nullptr ? 0 : pr->match) +
                  ", the commit index is " + std::to_string(log_.committed())};
    }
  }
  append_entry(Entry{term_, 0, EntryType::kConfChange,
                     encode_conf_change({change, next})});
  return {Code::kOk, kNoNode, log_.last_index(), term_, {}};
}

// ---------------------------------------------------------------------------
// Configurations entering and leaving the log

void Raft::on_entries_appended(const std::vector<Entry>& entries) {
  bool changed = false;
  for (const Entry& e : entries) {
    if (e.type != EntryType::kConfChange) continue;
    // An undecodable entry cannot have been proposed by a leader (which
    // encodes it itself); it leaves the membership as it was.
    auto record = decode_conf_change(e.data);
    if (!record) continue;
    conf_history_.emplace_back(e.index, record->conf);
    changed = true;
  }
  if (changed) apply_conf(conf_history_.back().second);
}

void Raft::on_log_truncated(Index from) {
  const size_t before = conf_history_.size();
  while (conf_history_.size() > 1 && conf_history_.back().first >= from) {
    conf_history_.pop_back();
  }
  if (conf_history_.size() != before) apply_conf(conf_history_.back().second);
}

void Raft::apply_conf(const ConfState& conf) {
  conf_ = conf;
  if (role_ == Role::kLeader) {
    rebuild_progress();
    if (transferee_ != kNoNode && !conf_.is_voter(transferee_))
      abort_transfer();
  } else if (role_ != Role::kFollower && !conf_.is_voter(id_)) {
    become_follower(term_, kNoNode);
  }
}

// Keeps the newest configuration known committed and every one after it.
void Raft::prune_conf_history() {
  while (conf_history_.size() > 1 &&
         conf_history_[1].first <= log_.committed()) {
    conf_history_.erase(conf_history_.begin());
  }
}

}  // namespace dengine::raft
