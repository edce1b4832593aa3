#include "raft/types.h"

#include <algorithm>

namespace dengine::raft {

bool ConfState::is_voter(NodeId id) const {
  return std::find(voters.begin(), voters.end(), id) != voters.end();
}

bool ConfState::is_learner(NodeId id) const {
  return std::find(learners.begin(), learners.end(), id) != learners.end();
}

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResponse";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResponse:
      return "VoteResponse";
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResponse:
      return "AppendResponse";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResponse";
    case MessageType::kInstallSnapshot:
      return "InstallSnapshot";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResponse";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
  }
  return "Unknown";
}

const char* to_string(Role role) {
  switch (role) {
    case Role::kFollower:
      return "Follower";
    case Role::kPreCandidate:
      return "PreCandidate";
    case Role::kCandidate:
      return "Candidate";
    case Role::kLeader:
      return "Leader";
  }
  return "Unknown";
}

bool Ready::empty() const {
  return !soft_state && !hard_state && !snapshot && entries.empty() &&
         messages.empty() && messages_after_persist.empty() &&
         committed_entries.empty() && read_states.empty() &&
         failed_reads.empty();
}

}  // namespace dengine::raft
