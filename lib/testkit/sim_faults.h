// The fault injector of a SimCluster: changes message loss, duplication and
// delay spikes over time, cuts symmetric and one-way partitions (often around
// the leader), and crashes nodes (often the leader, or a node whose disk write
// is in flight) and restarts them later. heal() ends every fault at once.
#pragma once

#include <cstdint>
#include <vector>

#include "raft/types.h"
#include "testkit/sim_cluster.h"
#include "testkit/sim_random.h"

namespace dengine::testkit {

struct FaultOptions {
  bool loss = false;  // loss, duplication and reordering
  bool partition = false;
  bool crash = false;
  double max_loss = 0.25;
  double max_duplicate = 0.10;
  double max_delay_spike = 0.10;
  int64_t loss_min_us = 100'000;
  int64_t loss_max_us = 600'000;
  int64_t partition_min_us = 30'000;
  int64_t partition_max_us = 400'000;
  int64_t crash_min_us = 50'000;
  int64_t crash_max_us = 600'000;
  int64_t downtime_min_us = 5'000;
  int64_t downtime_max_us = 500'000;
};

class SimFaults {
 public:
  SimFaults(SimCluster* cluster, SimRandom* rng, FaultOptions options);

  // Injects faults from now until virtual time `until`.
  void start(int64_t until);
  // Restores every link, stops loss and duplication, restarts every crashed
  // node that was not removed from the cluster.
  void heal();

 private:
  void loss_step();
  void partition_step();
  void crash_step();
  // Nodes that are not decommissioned.
  std::vector<raft::NodeId> members() const;
  double fraction(double max);
  int64_t after(int64_t min_us, int64_t max_us);

  SimCluster* cluster_;
  SimRandom* rng_;
  FaultOptions options_;
  int64_t until_ = 0;
};

}  // namespace dengine::testkit
