#include "raft/types.h"

#include <algorithm>

namespace dengine::raft {

std::string encode_noop(NodeId leader) {
  std::string data(8, '\0');
  for (size_t i = 0; i < 8; ++i) {
    data[i] = static_cast<char>((leader >> (8 * i)) & 0xff);
  }
  return data;
}

NodeId decode_noop_leader(std::string_view data) {
  if (data.size() != 8) return kNoNode;
  NodeId leader = 0;
  for (size_t i = 0; i < 8; ++i) {
    leader |= static_cast<NodeId>(static_cast<uint8_t>(data[i])) << (8 * i);
  }
  return leader;
}

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
