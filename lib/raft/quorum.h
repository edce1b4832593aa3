// Quorum arithmetic over one configuration's voters (membership changes one
// server at a time, so there is never a joint configuration to combine).
// Learners never count. Pure functions of their arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>

#include "raft/types.h"

namespace dengine::raft::quorum {

// Votes (or acknowledgements) that make a majority of `voters`.
size_t majority(size_t voters);

// What a voter has acknowledged: a log index (match) or a read round;
// 0 when nothing is known.
using Acked = std::function<uint64_t(NodeId voter)>;

// The largest value a majority of conf's voters has acknowledged: the commit
// candidate from match indexes, or the newest read round a quorum confirmed.
// 0 when there are no voters.
uint64_t committed_index(const ConfState& conf, const Acked& acked);

enum class VoteResult : uint8_t {
  kPending,  // neither side has a majority yet
  kWon,      // a majority of voters granted
  kLost,     // a majority of voters rejected: no win is possible
};

// Tallies `votes` (true: granted) of conf's voters; votes from anyone else
// are ignored.
VoteResult vote_result(const ConfState& conf,
                       const std::map<NodeId, bool>& votes);

}  // namespace dengine::raft::quorum
