// The core's read-only view of what the host has made durable. The host
// writes (after each Ready); the core only reads, synchronously, on its own
// thread. MemoryStorage is the in-memory implementation used by tests and the
// simulator; lib/storage/ provides the durable ones.
#pragma once

#include <cstdint>
#include <vector>

#include "raft/types.h"

namespace dengine::raft {

enum class StorageError : uint8_t {
  kOk,
  kCompacted,    // the index is at or below the snapshot: entries are gone
  kUnavailable,  // the index is past the last entry
};

struct InitialState {
  HardState hard_state;
  // Membership as of the snapshot (empty for a new node). The core replays the
  // configuration entries after it.
  ConfState conf;
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual InitialState initial_state() const = 0;
  // Index of the first entry still held (snapshot index + 1).
  virtual Index first_index() const = 0;
  // Index of the last entry held (snapshot index when the log is empty).
  virtual Index last_index() const = 0;
  // Term of the entry at `index`; the snapshot's index and term are
  // answerable too.
  virtual StorageError term(Index index, Term* out) const = 0;
  // Appends to `out` the entries in [lo, hi), stopping once their data bytes
  // would exceed max_bytes (at least one entry is always returned).
  virtual StorageError entries(Index lo, Index hi, uint64_t max_bytes,
                               std::vector<Entry>* out) const = 0;
  virtual Snapshot snapshot() const = 0;
};

// A complete, durable-by-definition store held in memory. Not thread-safe:
// use it from the thread that drives the core.
class MemoryStorage final : public Storage {
 public:
  MemoryStorage();

  InitialState initial_state() const override;
  Index first_index() const override;
  Index last_index() const override;
  StorageError term(Index index, Term* out) const override;
  StorageError entries(Index lo, Index hi, uint64_t max_bytes,
                       std::vector<Entry>* out) const override;
  Snapshot snapshot() const override;

  void set_hard_state(const HardState& hard_state);
  // Stores entries, first dropping every held entry from entries.front().index
  // on. Entries at or below the snapshot are ignored; a gap after the last
  // entry is a host bug and aborts.
  void append(const std::vector<Entry>& entries);
  // Replaces the whole log with a snapshot received from a leader. Returns
  // false (and changes nothing) if it is older than the held snapshot.
  bool apply_snapshot(const Snapshot& snapshot);
  // Records a snapshot of the local state machine at `index` (which must be
  // held) and discards the entries up to it.
  bool create_snapshot(Index index, const ConfState& conf, std::string data);

 private:
  HardState hard_state_;
  Snapshot snapshot_;
  // entries_[0] is a dummy holding the snapshot's index and term.
  std::vector<Entry> entries_;
};

}  // namespace dengine::raft
