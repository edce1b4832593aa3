// Elections (with pre-vote and check-quorum) and leadership transfer.
#include "raft/raft.h"

#include <algorithm>
#include <utility>

#include "raft/quorum.h"

namespace dengine::raft {

void Raft::reset_randomized_election_timeout() {
  const auto span = static_cast<uint64_t>(config_.election_tick);
  randomized_election_timeout_ =
      config_.election_tick + static_cast<int>(rng_() % span);
}

bool Raft::promotable() const {
  return conf_.is_voter(id_) && !log_.unstable_snapshot().has_value();
}

bool Raft::in_lease() const {
  if (!config_.check_quorum) return false;
  if (now_ < vote_guard_until_) return true;
  return leader_ != kNoNode && election_elapsed_ < config_.election_tick;
}

void Raft::campaign() {
  if (role_ == Role::kLeader || !promotable()) return;
  if (config_.pre_vote) {
    become_pre_candidate();
    start_election(/*pre_vote=*/true, /*transfer=*/false);
  } else {
    become_candidate();
    start_election(/*pre_vote=*/false, /*transfer=*/false);
  }
}

void Raft::start_election(bool pre_vote, bool transfer) {
  election_elapsed_ = 0;
  votes_.clear();
  votes_[id_] = true;
  if (quorum::vote_result(conf_, votes_) == quorum::VoteResult::kWon) {
    if (pre_vote) {
      become_candidate();
      start_election(false, transfer);
    } else {
      become_leader();
    }
    return;
  }
  const Term term = pre_vote ? term_ + 1 : term_;
  for (NodeId voter : conf_.voters) {
    if (voter == id_) continue;
    Message m;
    m.type = pre_vote ? MessageType::kPreVote : MessageType::kVote;
    m.to = voter;
    m.term = term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    m.transfer = transfer;
    send(std::move(m));
  }
}

void Raft::handle_vote_request(const Message& m) {
  const bool pre_vote = m.type == MessageType::kPreVote;
  bool can_vote = vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) ||
                  (pre_vote && m.term > term_);
  if (pre_vote && role_ == Role::kPreCandidate && m.term == term_ + 1 &&
      m.log_term == log_.last_term() && m.index == log_.last_index()) {
    // Two pre-candidates of the same election with the same log: if each
    // granted the other, both would stand and split the vote. The lower id
    // stands; the other one's pre-vote is lost and it waits as a follower.
    can_vote = m.from < id_;
  }
  Message reply;
  reply.type =
      pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  reply.to = m.from;
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    // A granted pre-vote answers in the candidate's future term.
    reply.term = m.term;
    if (!pre_vote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    reply.term = term_;
    reply.reject = true;
  }
  send(std::move(reply));
}

// ---------------------------------------------------------------------------
// Leadership transfer

Result Raft::transfer_leadership(NodeId to) {
  if (role_ != Role::kLeader) return not_leader();
  if (to == id_) {
    return {Code::kInvalidArgument, kNoNode, 0, 0,
            "node " + std::to_string(to) + " is already the leader"};
  }
  if (!conf_.is_voter(to)) {
    return {Code::kInvalidArgument, kNoNode, 0, 0,
            "node " + std::to_string(to) + " is not a voter"};
  }
  if (transferee_ == to) return {};
  abort_transfer();
  transferee_ = to;
  transfer_elapsed_ = 0;
  // The target will win an election that ignores our lease.
  reads_.drop_lease();
  const Progress* pr = progress(to);
  if (pr->match == log_.last_index()) {
    send_timeout_now(to);
  } else {
    send_append(to, true);
  }
  return {};
}

void Raft::send_timeout_now(NodeId to) {
  // The target may win an election that ignores leases at any time from now
  // on (a delayed TimeoutNow still counts), so no lease read is safe again in
  // this term.
  reads_.forfeit_lease();
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  send(std::move(m));
}

void Raft::abort_transfer() {
  transferee_ = kNoNode;
  transfer_elapsed_ = 0;
}

}  // namespace dengine::raft
