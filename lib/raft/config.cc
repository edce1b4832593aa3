#include "raft/config.h"

#include <algorithm>

namespace dengine::raft {

std::string Config::validate() const {
  if (id == kNoNode) return "id must not be 0";
  if (heartbeat_tick < 1) {
    return "heartbeat_tick (" + std::to_string(heartbeat_tick) +
           ") must be at least 1";
  }
  if (election_tick <= heartbeat_tick) {
    return "election_tick (" + std::to_string(election_tick) +
           ") must be greater than heartbeat_tick (" +
           std::to_string(heartbeat_tick) + ")";
  }
  if (max_inflight_msgs == 0) return "max_inflight_msgs must not be 0";
  if (max_inflight_bytes == 0) return "max_inflight_bytes must not be 0";
  if (max_msg_bytes == 0) return "max_msg_bytes must not be 0";
  if (lease_drift_ticks < 0 || lease_drift_ticks >= election_tick) {
    return "lease_drift_ticks (" + std::to_string(lease_drift_ticks) +
           ") must be in [0, election_tick (" + std::to_string(election_tick) +
           "))";
  }
  std::vector<NodeId> voters = bootstrap_voters;
  std::sort(voters.begin(), voters.end());
  if (!voters.empty() && voters.front() == kNoNode) {
    return "bootstrap_voters must not contain node id 0";
  }
  auto dup = std::adjacent_find(voters.begin(), voters.end());
  if (dup != voters.end()) {
    return "bootstrap_voters lists node " + std::to_string(*dup) + " twice";
  }
  return "";
}

}  // namespace dengine::raft
