#include "raft/raft_log.h"

#include <algorithm>
#include <cstdlib>

namespace dengine::raft {

RaftLog::RaftLog(Storage* storage) : storage_(storage) { restore(0, 0); }

void RaftLog::restore(Index committed, Index applied) {
  unstable_.clear();
  unstable_snapshot_.reset();
  unstable_offset_ = storage_->last_index() + 1;
  // Whatever a snapshot covers was committed, whatever the hard state says.
  const Index snapshot_index = storage_->first_index() - 1;
  committed_ = std::max(committed, snapshot_index);
  applied_ = std::min(std::max(applied, snapshot_index), committed_);
}

Index RaftLog::first_index() const {
  if (unstable_snapshot_) return unstable_snapshot_->meta.index + 1;
  return storage_->first_index();
}

Index RaftLog::last_index() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->meta.index;
  return storage_->last_index();
}

Term RaftLog::last_term() const { return term(last_index()).value_or(0); }

std::optional<Term> RaftLog::unstable_term(Index index) const {
  if (unstable_snapshot_ && unstable_snapshot_->meta.index == index) {
    return unstable_snapshot_->meta.term;
  }
  if (index >= unstable_offset_ &&
      index - unstable_offset_ < unstable_.size()) {
    return unstable_[index - unstable_offset_].term;
  }
  return std::nullopt;
}

std::optional<Term> RaftLog::term(Index index) const {
  if (auto term = unstable_term(index)) return term;
  if (index > last_index()) return std::nullopt;
  // A pending snapshot hides everything the storage holds below it.
  if (unstable_snapshot_ && index < unstable_snapshot_->meta.index) {
    return std::nullopt;
  }
  Term term = 0;
  if (storage_->term(index, &term) != StorageError::kOk) return std::nullopt;
  return term;
}

bool RaftLog::match_term(Index index, Term term) const {
  const std::optional<Term> held = this->term(index);
  return held && *held == term;
}

bool RaftLog::is_up_to_date(Index last_index, Term last_term) const {
  const Term own_term = this->last_term();
  return last_term > own_term ||
         (last_term == own_term && last_index >= this->last_index());
}

std::optional<std::vector<Entry>> RaftLog::slice(Index lo, Index hi,
                                                 uint64_t max_bytes) const {
  if (lo < first_index()) return std::nullopt;
  hi = std::min(hi, last_index() + 1);
  std::vector<Entry> out;
  if (lo >= hi) return out;
  uint64_t bytes = 0;
  if (lo < unstable_offset_) {
    const Index stable_hi = std::min(hi, unstable_offset_);
    const StorageError error =
        storage_->entries(lo, stable_hi, max_bytes, &out);
    if (error != StorageError::kOk) return std::nullopt;
    if (out.size() < stable_hi - lo) return out;  // capped by max_bytes
    for (const Entry& entry : out) bytes += entry.data.size();
  }
  for (Index i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& entry = unstable_[i - unstable_offset_];
    bytes += entry.data.size();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(entry);
  }
  return out;
}

Index RaftLog::append_after(Index prev, const std::vector<Entry>& entries) {
  if (entries.empty()) return 0;
  // The leader builds entries to follow prev; anything else is a core bug.
  if (entries.front().index != prev + 1) std::abort();
  const Index first_held = first_index();
  Index conflict = 0;
  for (const Entry& entry : entries) {
    // Entries below the snapshot are committed, hence identical.
    if (entry.index < first_held) continue;
    if (!match_term(entry.index, entry.term)) {
      conflict = entry.index;
      break;
    }
  }
  if (conflict == 0) return 0;
  // Overwriting a committed entry would break State Machine Safety.
  if (conflict <= committed_) std::abort();
  truncate_and_append(std::vector<Entry>(
      entries.begin() + (conflict - entries.front().index), entries.end()));
  return conflict;
}

void RaftLog::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  std::vector<Entry> numbered = entries;
  Index index = last_index();
  for (Entry& entry : numbered) entry.index = ++index;
  truncate_and_append(numbered);
}

void RaftLog::truncate_and_append(const std::vector<Entry>& entries) {
  const Index first = entries.front().index;
  if (first == unstable_offset_ + unstable_.size()) {
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  } else if (first <= unstable_offset_) {
    // Replaces stored entries too: the host overwrites them from `first` on
    // when it persists this tail.
    unstable_offset_ = first;
    unstable_ = entries;
  } else {
    unstable_.resize(first - unstable_offset_);
    unstable_.insert(unstable_.end(), entries.begin(), entries.end());
  }
}

Index RaftLog::find_conflict_by_term(Index index, Term term) const {
  Index i = std::min(index, last_index());
  while (i > 0) {
    const std::optional<Term> held = this->term(i);
    if (!held || *held <= term) return i;
    --i;
  }
  return 0;
}

void RaftLog::commit_to(Index index) {
  if (index <= committed_) return;
  // Committing an entry this node does not hold is a protocol violation.
  if (index > last_index()) std::abort();
  committed_ = index;
}

std::vector<Entry> RaftLog::next_committed(uint64_t max_bytes) const {
  if (!has_next_committed()) return {};
  const Index lo = std::max(applied_ + 1, first_index());
  return slice(lo, committed_ + 1, max_bytes).value_or(std::vector<Entry>{});
}

bool RaftLog::has_next_committed() const {
  // Entries under a snapshot reach the host through the snapshot instead.
  return committed_ > std::max(applied_, first_index() - 1);
}

void RaftLog::applied_to(Index index) {
  // The host cannot have applied what was never committed.
  if (index > committed_) std::abort();
  applied_ = std::max(applied_, index);
}

void RaftLog::restore_snapshot(const Snapshot& snapshot) {
  // applied_ stays: the host installs the snapshot from the Ready and the core
  // then records it through applied_to().
  committed_ = snapshot.meta.index;
  unstable_snapshot_ = snapshot;
  unstable_.clear();
  unstable_offset_ = snapshot.meta.index + 1;
}

void RaftLog::stable_to(Index index, Term term) {
  // A stale acknowledgement: the entry was overwritten since it was handed
  // out, or is already stable.
  if (index < unstable_offset_ || !match_term(index, term)) return;
  unstable_.erase(unstable_.begin(),
                  unstable_.begin() + (index + 1 - unstable_offset_));
  unstable_offset_ = index + 1;
}

void RaftLog::stable_snapshot_to(Index index) {
  if (unstable_snapshot_ && unstable_snapshot_->meta.index == index) {
    unstable_snapshot_.reset();
  }
}

Index RaftLog::stable_last_index() const {
  // While a received snapshot is unpersisted, the stored entries past the
  // stored snapshot may belong to a diverged history: only the stored
  // snapshot is known durable and consistent with the new log.
  if (unstable_snapshot_) return storage_->first_index() - 1;
  return unstable_offset_ - 1;
}

}  // namespace dengine::raft
