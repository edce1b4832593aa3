#include "testkit/sim_runner.h"

#include <cstdio>
#include <utility>
#include <vector>

#include "testkit/sim_checker.h"
#include "testkit/sim_faults.h"
#include "testkit/sim_random.h"
#include "testkit/sim_workload.h"

namespace dengine::testkit {

namespace {

struct ModeName {
  FaultMode mode;
  const char* name;
};

constexpr ModeName kModeNames[] = {
    {FaultMode::kNone, "none"},
    {FaultMode::kLoss, "loss"},
    {FaultMode::kPartition, "partition"},
    {FaultMode::kCrash, "crash"},
    {FaultMode::kMembership, "membership"},
    {FaultMode::kTransfer, "transfer"},
    {FaultMode::kMixed, "mixed"},
    {FaultMode::kLearners, "learners"},
};

constexpr int64_t kProbeEveryUs = 2'000;

// After the heal: proposes a probe value at a ready leader until one is
// applied on every voter of the leader's configuration (re-proposing if a
// probe is lost to a leader change), or fails at the deadline.
class LivenessProbe {
 public:
  LivenessProbe(SimCluster* cluster, int64_t healed_at, int64_t deadline)
      : cluster_(cluster), healed_at_(healed_at), deadline_(deadline) {}

  void start() {
    cluster_->at(cluster_->now(), [this] { step(); });
    cluster_->at(deadline_, [this] { expire(); });
  }
  bool done() const { return done_; }

 private:
  void step() {
    if (done_ || !cluster_->checker().ok()) return;
    const raft::NodeId leader = cluster_->leader();
    if (pending_) check_probe(leader);
    if (done_) return;
    if (!pending_ && cluster_->leader_ready(leader)) {
      const raft::Result result =
          cluster_->propose(leader, "probe." + std::to_string(++probes_));
      if (result.ok()) {
        pending_ = true;
        index_ = result.index;
        term_ = result.term;
        proposed_at_ = cluster_->now();
      }
    }
    cluster_->at(cluster_->now() + kProbeEveryUs, [this] { step(); });
  }

  void check_probe(raft::NodeId leader) {
    const raft::Term committed = cluster_->checker().committed_term(index_);
    const int64_t patience =
        2 * cluster_->options().election_tick * cluster_->options().tick_us;
    if ((committed != 0 && committed != term_) ||
        (committed == 0 && cluster_->now() - proposed_at_ > patience)) {
      pending_ = false;  // overwritten by a later leader, or dropped
      return;
    }
    if (committed == 0 || leader == raft::kNoNode) return;
    for (const raft::NodeId voter :
         cluster_->node(leader)->raft->conf().voters) {
      const SimNode* n = cluster_->node(voter);
      if (n == nullptr || !n->up || n->state_machine.applied() < index_) return;
    }
    done_ = true;
    cluster_->trace("liveness: probe " + std::to_string(term_) + "/" +
                    std::to_string(index_) + " applied on every voter");
    cluster_->stop();
  }

  void expire() {
    if (done_ || !cluster_->checker().ok()) return;
    const raft::NodeId leader = cluster_->leader();
    std::string state;
    if (leader == raft::kNoNode) {
      state = "no leader";
    } else if (!pending_) {
      state = "leader n" + std::to_string(leader) + " has no committed probe";
    } else {
      state = "probe " + std::to_string(term_) + "/" + std::to_string(index_) +
              " not yet applied on every voter";
    }
    cluster_->checker().fail("liveness: " + state + " " +
                             std::to_string((deadline_ - healed_at_) / 1000) +
                             " ms (" +
                             std::to_string(kLivenessElectionTimeouts) +
                             " election timeouts) after the faults healed");
  }

  SimCluster* cluster_;
  int64_t healed_at_;
  int64_t deadline_;
  bool done_ = false;
  bool pending_ = false;
  uint64_t probes_ = 0;
  raft::Index index_ = 0;
  raft::Term term_ = 0;
  int64_t proposed_at_ = 0;
};

bool has(FaultMode mode, FaultMode wanted) {
  return mode == wanted || mode == FaultMode::kMixed;
}

// Cluster parameters vary with the seed so flow control, compaction and
// timing corner cases all get their turn.
SimClusterOptions cluster_options(const SimOptions& options, SimRandom* rng) {
  SimClusterOptions c;
  c.voters = options.faults == FaultMode::kLearners ? 1 : options.nodes;
  c.network.max_delay_us = rng->between(500, 5'000);
  c.max_disk_us = rng->between(200, 4'000);
  c.snapshot_interval = rng->between(8, 128);
  c.max_msg_bytes = rng->pick(std::vector<uint64_t>{256, 1024, 8192, 1 << 20});
  c.max_inflight_msgs = rng->pick(std::vector<uint64_t>{1, 4, 32, 256});
  return c;
}

}  // namespace

const char* to_string(FaultMode mode) {
  for (const ModeName& m : kModeNames) {
    if (m.mode == mode) return m.name;
  }
  return "unknown";
}

bool parse_fault_mode(std::string_view text, FaultMode* mode) {
  for (const ModeName& m : kModeNames) {
    if (text == m.name) {
      *mode = m.mode;
      return true;
    }
  }
  return false;
}

SimResult run_simulation(const SimOptions& options, SimTrace* trace) {
  SimRandom rng(options.seed);
  SimChecker checker;
  const SimClusterOptions copts = cluster_options(options, &rng);
  if (trace != nullptr) {
    trace->add(
        0, "seed " + std::to_string(options.seed) + " faults " +
               to_string(options.faults) + " nodes " +
               std::to_string(options.nodes) +
               " max_delay_us=" + std::to_string(copts.network.max_delay_us) +
               " max_disk_us=" + std::to_string(copts.max_disk_us) +
               " snapshot_interval=" + std::to_string(copts.snapshot_interval) +
               " max_msg_bytes=" + std::to_string(copts.max_msg_bytes) +
               " max_inflight_msgs=" + std::to_string(copts.max_inflight_msgs));
  }
  SimCluster cluster(copts, options.seed, &rng, &checker, trace);

  FaultOptions fopts;
  fopts.loss = has(options.faults, FaultMode::kLoss);
  fopts.partition = has(options.faults, FaultMode::kPartition);
  fopts.crash = has(options.faults, FaultMode::kCrash) ||
                options.faults == FaultMode::kLearners;
  if (options.faults == FaultMode::kMixed) {
    // Several injectors run at once: spacing each out leaves the cluster
    // stretches of progress between faults.
    fopts.loss_min_us *= 2;
    fopts.loss_max_us *= 2;
    fopts.partition_min_us *= 3;
    fopts.partition_max_us *= 3;
    fopts.crash_min_us *= 3;
    fopts.crash_max_us *= 3;
  }
  SimFaults faults(&cluster, &rng, fopts);

  WorkloadOptions wopts;
  wopts.membership = has(options.faults, FaultMode::kMembership);
  wopts.transfers = has(options.faults, FaultMode::kTransfer);
  if (options.faults == FaultMode::kLearners) {
    // Learners come and go but are never promoted: the one voter stays
    // the only one, and wins every election by its own vote.
    wopts.membership = true;
    wopts.promote = false;
    wopts.min_voters = 1;
    wopts.max_members = 3;
  }
  SimWorkload workload(&cluster, &rng, wopts);

  const int64_t healed_at = options.duration_ms * 1000;
  const int64_t deadline = healed_at + kLivenessElectionTimeouts *
                                           copts.election_tick * copts.tick_us;
  LivenessProbe probe(&cluster, healed_at, deadline);
  faults.start(healed_at);
  workload.start(healed_at);
  cluster.at(healed_at, [&] {
    faults.heal();
    probe.start();
  });
  cluster.run_until(deadline);

  SimResult result;
  result.ok = checker.ok();
  result.violation = checker.violation();
  result.end_us = cluster.now();
  if (probe.done()) result.recovery_us = cluster.now() - healed_at;
  result.nodes = cluster.describe_nodes();
  result.stats = cluster.stats();
  return result;
}

std::string replay_command(std::string_view program,
                           const SimOptions& options) {
  std::string command(program);
  command += " --seed " + std::to_string(options.seed);
  command += std::string(" --faults ") + to_string(options.faults);
  if (options.nodes != kDefaultNodes) {
    command += " --nodes " + std::to_string(options.nodes);
  }
  if (options.duration_ms != kDefaultDurationMs) {
    command += " --duration " + std::to_string(options.duration_ms);
  }
  return command + " --verbose";
}

std::string failure_report(std::string_view program, const SimOptions& options,
                           const SimResult& result) {
  constexpr size_t kTailLines = 60;
  SimTrace tail(nullptr, kTailLines);
  const SimResult replay = run_simulation(options, &tail);
  char at[32];
  std::snprintf(at, sizeof(at), "%.3f ms",
                static_cast<double>(result.end_us) / 1000.0);
  std::string report = "VIOLATION (seed " + std::to_string(options.seed) +
                       ", faults " + to_string(options.faults) + ", at " + at +
                       "): " + result.violation + "\n";
  report += "replay: " + replay_command(program, options) + "\n";
  if (replay.violation != result.violation) {
    report += "warning: the traced replay ended differently (\"" +
              replay.violation + "\"): the run is not deterministic\n";
  }
  report += "nodes:\n" + result.nodes;
  report += "trace tail (last " + std::to_string(kTailLines) + " events):\n";
  report += tail.tail();
  return report;
}

}  // namespace dengine::testkit
