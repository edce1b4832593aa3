// The closed-loop driver: N clients, each with exactly one operation
// outstanding, sending the next as soon as the last completes, until a
// total number of operations or a deadline is reached. It measures each
// operation's latency from the call to its completion.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "latency_histogram.h"
#include "workload.h"

namespace dengine::bench {

struct OpOutcome {
  int status = 0;  // DENGINE_OK or a DENGINE_ERR_* code
  std::string message;
};
using OpDone = std::function<void(const OpOutcome&)>;

// What the clients talk to (an in-process node, or a dengined cluster).
class Target {
 public:
  virtual ~Target() = default;
  // Whether run_op() returns only once its op completed. The driver then
  // gives each client a thread of its own; otherwise all clients start
  // from one thread and continue on the threads completions run on.
  virtual bool blocking() const = 0;
  // Runs `op` as client number `client` (< the run's clients). `done` runs
  // exactly once, on any thread, possibly before run_op returns. Calls for
  // one client never overlap.
  virtual void run_op(size_t client, const Op& op, OpDone done) = 0;
};

struct LoopOptions {
  size_t clients = 1;
  uint64_t ops = 0;  // total over all clients; 0: run for `duration`
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};
  // Prefix of the progress line printed on stderr every second ("" : none).
  std::string progress_label;
};

struct LoopResult {
  uint64_t ok = 0;
  uint64_t errors = 0;
  std::string first_error;   // when errors > 0
  double seconds = 0;        // from the first call to the last completion
  LatencyHistogram latency;  // nanoseconds, of the ops that succeeded
};

LoopResult run_closed_loop(Target& target, const OpSource& next_op,
                           const LoopOptions& options);

}  // namespace dengine::bench
