#include "raft/quorum.h"

#include <algorithm>
#include <vector>

namespace dengine::raft::quorum {

size_t majority(size_t voters) { return voters / 2 + 1; }

uint64_t committed_index(const ConfState& conf, const Acked& acked) {
  if (conf.voters.empty()) return 0;
  std::vector<uint64_t> values;
  values.reserve(conf.voters.size());
  for (NodeId voter : conf.voters) values.push_back(acked(voter));
  // Sorted high to low, the majority-th value is held by at least a majority.
  std::sort(values.begin(), values.end(), std::greater<>());
  return values[majority(values.size()) - 1];
}

VoteResult vote_result(const ConfState& conf,
                       const std::map<NodeId, bool>& votes) {
  size_t granted = 0;
  size_t rejected = 0;
  for (NodeId voter : conf.voters) {
    auto it = votes.find(voter);
    if (it == votes.end()) continue;
    if (it->second) {
      granted++;
    } else {
      rejected++;
    }
  }
  const size_t needed = majority(conf.voters.size());
  if (granted >= needed) return VoteResult::kWon;
  if (rejected >= needed) return VoteResult::kLost;
  return VoteResult::kPending;
}

}  // namespace dengine::raft::quorum
