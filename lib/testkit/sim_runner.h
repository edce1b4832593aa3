// One simulator run per seed: a cluster under a workload and a class of
// faults for a fault phase, then every fault healed and a liveness bound to
// meet. Everything is derived from the seed, so the replay command printed for
// a failing seed reproduces it exactly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "testkit/sim_cluster.h"
#include "testkit/sim_trace.h"

namespace dengine::testkit {

enum class FaultMode : uint8_t {
  kNone,        // a reliable network with random delays (still reordering)
  kLoss,        // loss, duplication, delay spikes
  kPartition,   // symmetric and one-way partitions
  kCrash,       // crashes and restarts, losing unfinished disk writes
  kMembership,  // add learner, promote, remove (also the leader)
  kTransfer,    // leadership transfers
  kMixed,       // all of the above
  // One voter (the `nodes` option is ignored) with learners coming and
  // going, and crashes: a leader elected by its own vote alone.
  kLearners,
};

const char* to_string(FaultMode mode);
// Parses "none", "loss", "partition", "crash", "membership", "transfer",
// "mixed", "learners".
bool parse_fault_mode(std::string_view text, FaultMode* mode);

inline constexpr int64_t kDefaultDurationMs = 20'000;
inline constexpr int kDefaultNodes = 3;
// Liveness: once the faults heal, a leader must be elected and a new proposal
// applied on every voter within this many election timeouts.
inline constexpr int kLivenessElectionTimeouts = 30;

struct SimOptions {
  uint64_t seed = 1;
  FaultMode faults = FaultMode::kMixed;
  int nodes = kDefaultNodes;  // initial voters
  // Length of the fault phase in virtual milliseconds.
  int64_t duration_ms = kDefaultDurationMs;
};

struct SimResult {
  bool ok = true;
  // "<invariant>: <details>" when not ok.
  std::string violation;
  // Virtual time at the end of the run (or of the violation).
  int64_t end_us = 0;
  // From healing the faults to meeting the liveness condition.
  int64_t recovery_us = 0;
  // The nodes' state when the run ended.
  std::string nodes;
  SimStats stats;
};

// Runs one seed; `trace` (may be null) receives every event.
SimResult run_simulation(const SimOptions& options, SimTrace* trace);

// The command that replays `options` with `program` (the dengine-sim binary).
std::string replay_command(std::string_view program, const SimOptions& options);

// What to print for a failed run: the violation, the replay command, the
// nodes' state and the tail of the event trace (obtained by replaying the seed
// with tracing on).
std::string failure_report(std::string_view program, const SimOptions& options,
                           const SimResult& result);

}  // namespace dengine::testkit
