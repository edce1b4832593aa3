// The load a SimCluster runs while faults hit it: clients proposing unique
// values to whoever they believe leads (following kNotLeader hints) and
// waiting to see them applied, linearizable and lease reads at leaders and
// followers, and, when enabled, membership changes (add a fresh learner,
// promote it once caught up, remove voters including the leader, never below
// three voters) and leadership transfers.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "raft/types.h"
#include "testkit/sim_cluster.h"
#include "testkit/sim_random.h"

namespace dengine::testkit {

struct WorkloadOptions {
  int clients = 3;
  // Pause between a client's requests.
  int64_t think_min_us = 200;
  int64_t think_max_us = 5'000;
  // A client gives up on a proposal not applied within this time.
  int64_t proposal_timeout_us = 500'000;
  // Values carry up to this much padding; one in fifty is ten times larger.
  int max_padding = 64;
  int64_t read_min_us = 1'000;
  int64_t read_max_us = 10'000;
  bool membership = false;
  int64_t membership_min_us = 30'000;
  int64_t membership_max_us = 300'000;
  int min_voters = 3;
  int max_members = 7;
  bool promote = true;  // false: learners are added and removed only
  bool transfers = false;
  int64_t transfer_min_us = 80'000;
  int64_t transfer_max_us = 500'000;
};

class SimWorkload {
 public:
  SimWorkload(SimCluster* cluster, SimRandom* rng, WorkloadOptions options);

  // Runs the load from now until virtual time `until`.
  void start(int64_t until);

 private:
  struct Client {
    int id = 0;
    raft::NodeId leader = raft::kNoNode;  // who the client believes leads
    uint64_t sequence = 0;
    bool waiting = false;
    raft::NodeId node = raft::kNoNode;
    uint64_t incarnation = 0;
    raft::Index index = 0;
    raft::Term term = 0;
    std::string value;
    int64_t deadline = 0;
  };

  void client_step(size_t c);
  void read_step();
  void membership_step();
  void transfer_step();
  void on_apply(const SimNode& node, const raft::Entry& entry);
  raft::NodeId random_up_node();
  int64_t after(int64_t min_us, int64_t max_us);

  SimCluster* cluster_;
  SimRandom* rng_;
  WorkloadOptions options_;
  int64_t until_ = 0;
  std::vector<Client> clients_;
  // Nodes ever proposed as members: never added again.
  std::set<raft::NodeId> enrolled_;
};

}  // namespace dengine::testkit
