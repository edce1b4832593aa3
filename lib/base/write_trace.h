// Timestamps of each stage of replicated writes, by log index, to find where
// a write's time goes (dengine-bench --breakdown, docs/benchmarks.md).
//
// Off by default: until enable(), mark() costs one relaxed atomic load. Made
// for one cluster in one process: several nodes mark the same index, and the
// earliest mark of each stage is kept (the first follower to receive an
// entry, the first to make it durable; the leader commits and applies an
// entry before any follower learns that it committed). Indexes at or above
// the capacity given to enable() are not traced. Not thread-safe against
// enable() and disable(): call those with no node running.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dengine::base::write_trace {

// In the order they happen on the path of a write through a leader and a
// follower (kLeaderPersisted runs beside the follower's stages).
enum Stage : int {
  kProposed,           // leader loop: the core took the proposal
  kLeaderPersisted,    // leader storage thread: the entry is durable there
  kFollowerArrived,    // follower transport thread: the append was read
  kFollowerStepped,    // follower loop: the core took the append
  kFollowerPersisted,  // follower storage thread: durable, ack sent
  kAckArrived,         // leader transport thread: the ack was read
  kAckStepped,         // leader loop: the core took the ack
  kCommitted,          // leader loop: handed to the apply thread
  kApplyStarted,       // apply thread: took the entry
  kApplied,            // apply thread: the machine applied it; waiters next
  kStageCount
};

const char* stage_name(Stage stage);

void enable(size_t capacity);
void disable();
bool enabled();
// Any thread. The monotonic clock now, unless the stage has a mark already.
void mark(Stage stage, uint64_t index);
// The same with a given time (nanoseconds, not 0), for tests.
void mark_at(Stage stage, uint64_t index, int64_t ns);

// The time from one stage to another over the indexes that have both marks.
struct Span {
  Stage from;
  Stage to;
  uint64_t samples = 0;
  double p50_us = 0;
  double p90_us = 0;
  double mean_us = 0;
};
// The spans between consecutive stages of the path (kLeaderPersisted
// measured from kProposed), then kProposed to kApplied.
std::vector<Span> summarize();

}  // namespace dengine::base::write_trace
