#include "raft/storage.h"

#include <cstdlib>
#include <utility>

namespace dengine::raft {

namespace {

Entry dummy_entry(Index index, Term term) {
  Entry dummy;
  dummy.index = index;
  dummy.term = term;
  return dummy;
}

}  // namespace

MemoryStorage::MemoryStorage() : entries_{dummy_entry(0, 0)} {}

InitialState MemoryStorage::initial_state() const {
  return InitialState{hard_state_, snapshot_.meta.conf};
}

Index MemoryStorage::first_index() const { return entries_.front().index + 1; }

Index MemoryStorage::last_index() const {
  return entries_.front().index + entries_.size() - 1;
}

StorageError MemoryStorage::term(Index index, Term* out) const {
  const Index offset = entries_.front().index;
  if (index < offset) return StorageError::kCompacted;
  if (index > last_index()) return StorageError::kUnavailable;
  *out = entries_[index - offset].term;
  return StorageError::kOk;
}

StorageError MemoryStorage::entries(Index lo, Index hi, uint64_t max_bytes,
                                    std::vector<Entry>* out) const {
  const Index offset = entries_.front().index;
  if (lo <= offset) return StorageError::kCompacted;
  if (hi > last_index() + 1) return StorageError::kUnavailable;
  uint64_t bytes = 0;
  for (Index i = lo; i < hi; ++i) {
    const Entry& entry = entries_[i - offset];
    bytes += entry.data.size();
    if (i > lo && bytes > max_bytes) break;
    out->push_back(entry);
  }
  return StorageError::kOk;
}

Snapshot MemoryStorage::snapshot() const { return snapshot_; }

void MemoryStorage::set_hard_state(const HardState& hard_state) {
  hard_state_ = hard_state;
}

void MemoryStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  // A gap would silently corrupt the log: it can only be a host bug.
  if (entries.front().index > last_index() + 1) std::abort();
  const Index first = first_index();
  if (entries.back().index < first) return;
  // Entries at or below the snapshot are already covered by it.
  size_t skip = 0;
  if (entries.front().index < first) skip = first - entries.front().index;
  const Index start = entries[skip].index;
  entries_.resize(start - entries_.front().index);
  entries_.insert(entries_.end(), entries.begin() + skip, entries.end());
}

bool MemoryStorage::apply_snapshot(const Snapshot& snapshot) {
  if (snapshot.meta.index <= snapshot_.meta.index) return false;
  snapshot_ = snapshot;
  entries_.assign(1, dummy_entry(snapshot.meta.index, snapshot.meta.term));
  return true;
}

bool MemoryStorage::create_snapshot(Index index, const ConfState& conf,
                                    std::string data) {
  if (index <= snapshot_.meta.index || index > last_index()) return false;
  const Index offset = entries_.front().index;
  const Term term = entries_[index - offset].term;
  snapshot_.meta = SnapshotMeta{index, term, conf};
  snapshot_.data = std::move(data);
  entries_.erase(entries_.begin(), entries_.begin() + (index - offset));
  entries_.front() = dummy_entry(index, term);
  return true;
}

}  // namespace dengine::raft
