#include "raft/progress.h"

#include <algorithm>

namespace dengine::raft {

void Inflights::add(Index last_index, uint64_t bytes) {
  in_flight_.push_back(Flight{last_index, bytes});
  bytes_ += bytes;
}

void Inflights::free_to(Index index) {
  while (!in_flight_.empty() && in_flight_.front().last_index <= index) {
    bytes_ -= in_flight_.front().bytes;
    in_flight_.pop_front();
  }
}

void Inflights::free_first_one() {
  if (in_flight_.empty()) return;
  bytes_ -= in_flight_.front().bytes;
  in_flight_.pop_front();
}

void Inflights::reset() {
  in_flight_.clear();
  bytes_ = 0;
}

bool Inflights::full() const {
  return in_flight_.size() >= max_msgs_ || bytes_ >= max_bytes_;
}

const char* to_string(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "Probe";
    case ProgressState::kReplicate:
      return "Replicate";
    case ProgressState::kSnapshot:
      return "Snapshot";
  }
  return "Unknown";
}

void Progress::become_probe() {
  // After a snapshot the follower holds everything up to it, even before its
  // acknowledgement raised match.
  if (state == ProgressState::kSnapshot) {
    next = std::max(match + 1, pending_snapshot + 1);
  } else {
    next = match + 1;
  }
  state = ProgressState::kProbe;
  probe_sent = false;
  pending_snapshot = 0;
  inflights.reset();
}

void Progress::become_replicate() {
  state = ProgressState::kReplicate;
  next = match + 1;
  probe_sent = false;
  pending_snapshot = 0;
  inflights.reset();
}

void Progress::become_snapshot(Index snapshot_index) {
  state = ProgressState::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.reset();
}

bool Progress::maybe_update(Index index) {
  bool updated = false;
  if (index > match) {
    match = index;
    probe_sent = false;
    updated = true;
  }
  next = std::max(next, index + 1);
  return updated;
}

bool Progress::maybe_decrease(Index rejected, Index next_guess) {
  if (state == ProgressState::kReplicate) {
    // Everything up to match is known to be on the follower: a rejection at
    // or below it answers an older append.
    if (rejected <= match) return false;
    next = std::max(std::min(rejected, next_guess), match + 1);
    return true;
  }
  // Only one append is outstanding while probing: a rejection of anything
  // but the last one sent is stale.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, next_guess), Index{1});
  probe_sent = false;
  return true;
}

void Progress::sent_entries(Index last_index, uint64_t bytes) {
  switch (state) {
    case ProgressState::kReplicate:
      next = last_index + 1;
      inflights.add(last_index, bytes);
      break;
    case ProgressState::kProbe:
      probe_sent = true;
      break;
    case ProgressState::kSnapshot:
      break;
  }
}

bool Progress::paused() const {
  switch (state) {
    case ProgressState::kProbe:
      return probe_sent;
    case ProgressState::kReplicate:
      return inflights.full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

}  // namespace dengine::raft
