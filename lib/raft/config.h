// Tunables of one Raft core, all in logical ticks or counts. The node layer
// maps ticks to wall time (one tick is typically 10-100 ms).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "raft/types.h"

namespace dengine::raft {

struct Config {
  NodeId id = kNoNode;

  // A follower that hears nothing from a leader for a random number of ticks
  // in [election_tick, 2 * election_tick) starts an election.
  int election_tick = 10;
  // A leader sends heartbeats every heartbeat_tick ticks.
  int heartbeat_tick = 1;

  // Pre-vote (Raft thesis 9.6): a node first asks whether it could win before
  // raising its term, so a partitioned node rejoining cannot disrupt a leader.
  bool pre_vote = true;
  // A leader that has not heard from a quorum within an election timeout
  // steps down. Also makes followers ignore vote requests while they hear from
  // a live leader; lease reads depend on it.
  bool check_quorum = true;

  // Flow control per follower in replicate mode.
  uint64_t max_inflight_msgs = 256;
  uint64_t max_inflight_bytes = 32ull << 20;
  // Upper bound on the entry bytes in one AppendEntries (one entry is always
  // allowed, however large).
  uint64_t max_msg_bytes = 1ull << 20;
  // A proposal larger than this is refused with kProposalTooLarge (0: no
  // limit).
  uint64_t max_entry_bytes = 64ull << 20;

  // Lease reads: the leader's lease lasts election_tick - lease_drift_ticks
  // ticks from the start of the last quorum-acknowledged round. The margin
  // bounds how much faster a follower's clock may run than the leader's.
  int lease_drift_ticks = 2;

  // Index the host's state machine has applied (0 for a new node). Committed
  // entries are handed out from applied + 1.
  Index applied = 0;

  // Voters of a brand-new cluster. Used only when the storage is empty: the
  // core then writes this membership as entry 1 of the log. Empty on nodes that
  // join an existing cluster (they learn membership from the leader).
  std::vector<NodeId> bootstrap_voters;

  // Seed of the only randomness in the core (election timeouts, and the
  // prefix that tells this instance's forwarded reads from those of an
  // earlier one). Give every start of a node a different seed.
  uint64_t seed = 1;

  // Empty when the configuration is usable, else what is wrong with it.
  std::string validate() const;
};

}  // namespace dengine::raft
