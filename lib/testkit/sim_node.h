// One simulated host process of a SimCluster. Its MemoryStorage is the disk:
// it survives crashes. Everything else (the Raft core, the state machine, the
// Ready being written, confirmed reads) is volatile and lost in a crash; a
// restart rebuilds it from the storage.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "raft/raft.h"
#include "raft/storage.h"
#include "raft/types.h"
#include "testkit/sim_state_machine.h"

namespace dengine::testkit {

struct SimNode {
  raft::NodeId id = raft::kNoNode;
  // Voters of the initial cluster (empty for nodes that join later).
  std::vector<raft::NodeId> bootstrap_voters;
  raft::MemoryStorage storage;
  // The node compacts its log once it applied this many entries past its
  // snapshot.
  raft::Index snapshot_interval = 32;
  // This node's tick interval: its clock's rate.
  int64_t tick_us = 10'000;

  bool up = false;
  // Removed from the cluster and shut down for good.
  bool decommissioned = false;
  bool decommission_scheduled = false;
  // Bumped on every start; events of an earlier life are ignored.
  uint64_t incarnation = 0;

  std::unique_ptr<raft::Raft> raft;
  SimStateMachine state_machine;
  // Membership as of the applied index (what a snapshot must record).
  raft::ConfState applied_conf;
  // The Ready whose disk write is in progress; advance() waits for it.
  std::optional<raft::Ready> writing;
  // Confirmed reads waiting for the state machine to reach their index.
  std::vector<raft::ReadState> reads_waiting;
  // Read contexts are numbered per start, as a host that keeps no state
  // across restarts numbers them: a context is reused after a restart.
  uint64_t next_read = 0;
  // The core's role as last reported in a Ready.
  raft::SoftState soft_state;
  // The term in which the checker knows this node as leader (0: not leader),
  // and its commit index as last reported to the checker in that term.
  raft::Term leader_term = 0;
  raft::Index leader_commit = 0;
};

}  // namespace dengine::testkit
