// A leader's view of one follower's log (Raft thesis 3.5, with etcd-raft's
// probe/replicate/snapshot states) and the flow control on what is in flight.
#pragma once

#include <cstdint>
#include <deque>

#include "raft/types.h"

namespace dengine::raft {

// The AppendEntries messages sent but not yet acknowledged, bounded by count
// and by bytes.
class Inflights {
 public:
  Inflights(uint64_t max_msgs, uint64_t max_bytes)
      : max_msgs_(max_msgs), max_bytes_(max_bytes) {}

  void add(Index last_index, uint64_t bytes);
  // Forgets every message whose last index is <= index.
  void free_to(Index index);
  // Forgets the oldest message: a heartbeat answer shows the follower is
  // alive, so one slot reopens even if appends were lost.
  void free_first_one();
  void reset();
  bool full() const;
  size_t count() const { return in_flight_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  struct Flight {
    Index last_index;
    uint64_t bytes;
  };
  uint64_t max_msgs_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::deque<Flight> in_flight_;
};

enum class ProgressState : uint8_t {
  kProbe,      // next is a guess: one append at a time until it matches
  kReplicate,  // next is known: stream appends, pipelined up to the inflight
               // limits
  kSnapshot,   // waiting for the follower to install a snapshot
};

const char* to_string(ProgressState state);

struct Progress {
  Progress(Index next_index, uint64_t max_msgs, uint64_t max_bytes)
      : next(next_index), inflights(max_msgs, max_bytes) {}

  Index match = 0;  // highest index known replicated (durable) on the follower
  Index next = 1;   // next index to send
  ProgressState state = ProgressState::kProbe;
  // In probe state: an append is outstanding, wait for its answer.
  bool probe_sent = false;
  Index pending_snapshot = 0;  // index of the snapshot in flight
  // Heard from within the current check-quorum window.
  bool recent_active = false;
  // Highest read round this follower has acknowledged.
  uint64_t acked_round = 0;
  Inflights inflights;

  void become_probe();
  void become_replicate();
  void become_snapshot(Index snapshot_index);
  // An append up to `index` succeeded. Returns whether match advanced.
  bool maybe_update(Index index);
  // The follower rejected an append at `rejected`; `next_guess` is the index to
  // try next. Returns false when the rejection is stale and was ignored.
  bool maybe_decrease(Index rejected, Index next_guess);
  // Records entries up to `last_index` sent optimistically.
  void sent_entries(Index last_index, uint64_t bytes);
  // No more appends should be sent now.
  bool paused() const;
};

}  // namespace dengine::raft
