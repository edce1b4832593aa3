// The core's log: what the host has made durable (Storage) followed by the
// unstable tail the core has accepted but the host has not yet persisted.
// Tracks the commit index and how far committed entries were handed out.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/storage.h"
#include "raft/types.h"

namespace dengine::raft {

class RaftLog {
 public:
  explicit RaftLog(Storage* storage);

  // Starts from the storage's state; `applied` is the host's applied index.
  void restore(Index committed, Index applied);

  Index first_index() const;
  Index last_index() const;
  Term last_term() const;
  // Term at index, or nullopt when compacted or past the end.
  std::optional<Term> term(Index index) const;
  bool match_term(Index index, Term term) const;
  // Raft's "at least as up-to-date" (thesis 3.6.1).
  bool is_up_to_date(Index last_index, Term last_term) const;

  // Entries in [lo, hi), capped at max_bytes (at least one entry). Returns
  // nullopt if lo is compacted.
  std::optional<std::vector<Entry>> slice(Index lo, Index hi,
                                          uint64_t max_bytes) const;

  // Appends entries following index `prev` (whose term matched), truncating
  // only at the first conflict. Returns the index of the first entry actually
  // written (0 if nothing new), so the caller can undo membership past it.
  // Aborts if entries do not start at prev + 1 or would overwrite a committed
  // entry: either means the protocol is broken, and stopping beats diverging.
  Index append_after(Index prev, const std::vector<Entry>& entries);
  // Appends entries at last_index()+1, numbering them (own proposals).
  void append(const std::vector<Entry>& entries);
  // For a rejection hint: the largest index <= index whose term <= term.
  Index find_conflict_by_term(Index index, Term term) const;

  Index committed() const { return committed_; }
  // Raises the commit index; committing past last_index() aborts.
  void commit_to(Index index);
  // Entries committed but not yet handed to the host.
  std::vector<Entry> next_committed(uint64_t max_bytes) const;
  bool has_next_committed() const;
  // Records what the host applied; past the commit index aborts.
  void applied_to(Index index);
  Index applied() const { return applied_; }

  // Replaces the whole log with a snapshot (follower catching up).
  void restore_snapshot(const Snapshot& snapshot);

  // The unstable tail and snapshot for the next Ready, and acknowledging them.
  const std::vector<Entry>& unstable_entries() const { return unstable_; }
  const std::optional<Snapshot>& unstable_snapshot() const {
    return unstable_snapshot_;
  }
  // The host persisted entries through (index, term).
  void stable_to(Index index, Term term);
  void stable_snapshot_to(Index index);
  // The last index that is durable (persisted by the host).
  Index stable_last_index() const;

 private:
  std::optional<Term> unstable_term(Index index) const;
  void truncate_and_append(const std::vector<Entry>& entries);

  Storage* storage_;
  // unstable_[i] has index unstable_offset_ + i.
  std::vector<Entry> unstable_;
  Index unstable_offset_ = 1;
  std::optional<Snapshot> unstable_snapshot_;
  Index committed_ = 0;
  Index applied_ = 0;
};

}  // namespace dengine::raft
