// The simulated network between the nodes of a SimCluster: decides, for each
// message, whether it is lost, duplicated or delayed, and which links a
// partition has cut. It holds no messages itself; the cluster schedules the
// deliveries it decides on.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/types.h"
#include "testkit/sim_random.h"

namespace dengine::testkit {

struct NetworkFaults {
  double loss = 0;       // probability that a message silently disappears
  double duplicate = 0;  // probability that it is delivered twice
  // Probability that it takes the slow path (up to spike_delay_us), which
  // reorders it behind many later messages.
  double delay_spike = 0;
};

struct NetworkTiming {
  int64_t min_delay_us = 100;
  int64_t max_delay_us = 2000;
  int64_t spike_delay_us = 40000;
};

// What happens to one message.
struct Route {
  // Why it was dropped (nullptr when delivered).
  const char* dropped = nullptr;
  int copies = 0;
  int64_t delay_us[2] = {0, 0};
};

class SimNetwork {
 public:
  SimNetwork(SimRandom* rng, NetworkTiming timing);

  void set_faults(const NetworkFaults& faults) { faults_ = faults; }
  const NetworkFaults& faults() const { return faults_; }

  // Cuts the link from -> to only (a one-way partition).
  void cut(raft::NodeId from, raft::NodeId to);
  // Cuts every link between the two sides, both ways.
  void partition(const std::vector<raft::NodeId>& a,
                 const std::vector<raft::NodeId>& b);
  // Restores every link (loss, duplication and delay settings stay).
  void heal_links();
  bool connected(raft::NodeId from, raft::NodeId to) const;
  bool partitioned() const { return !cut_.empty(); }
  // "1->2 1->3 ..." for traces.
  std::string describe_cuts() const;

  Route route(raft::NodeId from, raft::NodeId to);

 private:
  int64_t delay();

  SimRandom* rng_;
  NetworkTiming timing_;
  NetworkFaults faults_;
  std::set<std::pair<raft::NodeId, raft::NodeId>> cut_;
};

}  // namespace dengine::testkit
