#include "storage/raft_storage.h"

#include <string>
#include <utility>

namespace dengine::storage {

Status DurableStorage::open(std::unique_ptr<LogStore> log,
                            std::unique_ptr<HardStateStore> hard_state,
                            const raft::SnapshotMeta& snapshot,
                            std::unique_ptr<DurableStorage>* out) {
  if (!log || !hard_state) {
    return Status::invalid_argument("DurableStorage needs both stores");
  }
  std::unique_ptr<DurableStorage> storage(
      new DurableStorage(std::move(log), std::move(hard_state)));
  Status s = storage->hard_state_store_->load(&storage->hard_state_);
  if (!s) return s;
  storage->saved_hard_state_ = storage->hard_state_;
  s = storage->reconcile(snapshot);
  if (!s) return s;
  storage->snapshot_ = snapshot;
  const raft::Index last = storage->log_->last_index();
  if (storage->hard_state_.commit > last) storage->hard_state_.commit = last;
  *out = std::move(storage);
  return Status::ok();
}

Status DurableStorage::reconcile(const raft::SnapshotMeta& snapshot) {
  const raft::Index purge_point = log_->first_index() - 1;
  if (snapshot.index < purge_point) {
    return Status::corruption(
        "the log is purged up to index " + std::to_string(purge_point) +
        " but the latest snapshot ends at index " +
        std::to_string(snapshot.index) + ": entries in between are lost");
  }
  raft::Term term = 0;
  if (snapshot.index == purge_point) {
    Status s = log_->term(purge_point, &term);
    if (!s) return s;
    if (term != snapshot.term) {
      return Status::corruption(
          "the log's purge point at index " + std::to_string(purge_point) +
          " has term " + std::to_string(term) + " but the snapshot there has " +
          "term " + std::to_string(snapshot.term));
    }
    return Status::ok();
  }
  // The previous run stopped between storing the snapshot and trimming the
  // log: finish the job.
  Status s;
  if (snapshot.index <= log_->last_index() &&
      log_->term(snapshot.index, &term).is_ok() && term == snapshot.term) {
    s = log_->purge_prefix(snapshot.index);
  } else {
    s = log_->reset(snapshot.index, snapshot.term);
  }
  if (!s) return s;
  return log_->sync();
}

raft::InitialState DurableStorage::initial_state() const {
  std::lock_guard lock(mutex_);
  return raft::InitialState{hard_state_, snapshot_.conf};
}

raft::Index DurableStorage::first_index() const { return log_->first_index(); }

raft::Index DurableStorage::last_index() const { return log_->last_index(); }

raft::StorageError DurableStorage::report(const Status& status) const {
  switch (status.code()) {
    case StatusCode::kOk:
      return raft::StorageError::kOk;
    case StatusCode::kCompacted:
      return raft::StorageError::kCompacted;
    case StatusCode::kUnavailable:
      return raft::StorageError::kUnavailable;
    default:
      break;
  }
  std::lock_guard lock(mutex_);
  if (read_error_.is_ok()) read_error_ = status;
  return raft::StorageError::kUnavailable;
}

raft::StorageError DurableStorage::term(raft::Index index,
                                        raft::Term* out) const {
  return report(log_->term(index, out));
}

raft::StorageError DurableStorage::entries(
    raft::Index lo, raft::Index hi, uint64_t max_bytes,
    std::vector<raft::Entry>* out) const {
  return report(log_->entries(lo, hi, max_bytes, out));
}

raft::Snapshot DurableStorage::snapshot() const {
  std::lock_guard lock(mutex_);
  raft::Snapshot snapshot;
  snapshot.meta = snapshot_;
  return snapshot;
}

Status DurableStorage::persist(const raft::Ready& ready) {
  bool log_written = false;
  bool log_synced = false;
  if (ready.snapshot && !ready.snapshot->empty()) {
    const raft::SnapshotMeta& meta = ready.snapshot->meta;
    {
      std::lock_guard lock(mutex_);
      if (meta.index <= snapshot_.index) {
        return Status::invalid_argument("snapshot at index " +
                                        std::to_string(meta.index) +
                                        " is not newer than the held one at " +
                                        std::to_string(snapshot_.index));
      }
    }
    Status s = log_->reset(meta.index, meta.term);
    if (!s) return s;
    log_written = true;
    std::lock_guard lock(mutex_);
    snapshot_ = meta;
  }
  if (!ready.entries.empty()) {
    Status s = log_->append(ready.entries);
    if (!s) return s;
    log_written = true;
  }
  if (ready.hard_state) {
    // Term and vote must be durable before any message depending on them
    // leaves; the commit index need not be (Raft keeps it volatile: a
    // restarted node learns it again). Saving only when term or vote
    // change spares a synced file replace per committed batch.
    const bool vote_changed =
        ready.hard_state->term != saved_hard_state_.term ||
        ready.hard_state->vote != saved_hard_state_.vote;
    if (vote_changed) {
      // The saved commit index must not outlive the entries it covers: a
      // power loss after the save but before the log's sync would keep it
      // over the entries these replaced, and they would be applied.
      if (log_written || log_->durable_index() < log_->last_index()) {
        Status s = log_->sync();
        if (!s) return s;
        log_synced = true;
      }
      Status s = hard_state_store_->save(*ready.hard_state);
      if (!s) return s;
      saved_hard_state_ = *ready.hard_state;
    }
    std::lock_guard lock(mutex_);
    hard_state_ = *ready.hard_state;
  }
  if (ready.must_sync && !log_synced) return log_->sync();
  return Status::ok();
}

void DurableStorage::note_volatile(const raft::HardState& hard_state) {
  std::lock_guard lock(mutex_);
  hard_state_ = hard_state;
}

Status DurableStorage::compact(const raft::SnapshotMeta& meta) {
  {
    std::lock_guard lock(mutex_);
    if (meta.index <= snapshot_.index) {
      return Status::invalid_argument("compaction to index " +
                                      std::to_string(meta.index) +
                                      " is not past the held snapshot at " +
                                      std::to_string(snapshot_.index));
    }
  }
  raft::Term term = 0;
  Status s = log_->term(meta.index, &term);
  if (!s) return s;
  if (term != meta.term) {
    return Status::invalid_argument(
        "compaction to index " + std::to_string(meta.index) + ", term " +
        std::to_string(meta.term) + " but the log has term " +
        std::to_string(term) + " there");
  }
  {
    std::lock_guard lock(mutex_);
    snapshot_ = meta;
  }
  return log_->purge_prefix(meta.index);
}

Status DurableStorage::read_error() const {
  std::lock_guard lock(mutex_);
  return read_error_;
}

Status DurableStorage::close() {
  // A clean close keeps the latest commit index too, so a restart hands out
  // the committed entries without waiting for a leader.
  raft::HardState latest;
  {
    std::lock_guard lock(mutex_);
    latest = hard_state_;
  }
  Status s = log_->sync();
  if (s && latest != saved_hard_state_) {
    s = hard_state_store_->save(latest);
    if (s) saved_hard_state_ = latest;
  }
  Status closed = log_->close();
  return s ? closed : s;
}

}  // namespace dengine::storage
