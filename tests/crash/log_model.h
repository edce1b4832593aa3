// The reference model the crash tests hold a log store to: the log as a
// plain vector, and the set of states a crash may legally leave behind.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "raft/types.h"

namespace dengine::crash {

struct LogModel {
  raft::Index first = 1;
  raft::Term purge_term = 0;  // term of the entry at first - 1
  std::vector<raft::Entry> entries;

  raft::Index last() const { return first + entries.size() - 1; }
  bool operator==(const LogModel&) const = default;
};

// One change to the log, as small as a crash can split: a batch append is
// one operation per entry, since records reach the disk in order.
struct LogOperation {
  enum class Kind : uint8_t { kAppend, kTruncate, kPurge, kReset };
  Kind kind = Kind::kAppend;
  raft::Entry entry;      // kAppend
  raft::Index index = 0;  // kTruncate, kPurge, kReset
  raft::Term term = 0;    // kPurge, kReset

  // Purges and resets are durable when they return; the rest at sync().
  bool durable_at_once() const {
    return kind == Kind::kPurge || kind == Kind::kReset;
  }
};

void apply(const LogOperation& op, LogModel* log);

// Whether `recovered` is a state a crash may leave: the synced state plus a
// prefix of the operations since (none lost that a sync covered, none
// invented), with every later purge and reset applied anyway.
bool crash_may_leave(const LogModel& synced,
                     const std::vector<LogOperation>& since,
                     const LogModel& recovered);

std::string describe(const LogModel& log);

}  // namespace dengine::crash
