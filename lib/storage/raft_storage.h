// DurableStorage: the Raft core's Storage over a LogStore, a HardStateStore
// and the latest snapshot's metadata; the node layer reads through it (the
// raft::Storage side) and writes each Ready through persist().
//
// Write order for one Ready (lib/raft/types.h): the snapshot resets the log
// to its index and term; the entries are appended (replacing any held suffix
// from their first index); the hard state is saved (durable at once) when its
// term or vote changed; then, if the Ready must be synced, one log sync()
// makes the entries durable. The snapshot's files must already be complete in
// the SnapshotStore.
//
// The commit index alone is not worth a synced save per batch: it is saved
// with term and vote changes and by close(). After a crash it may come back
// lower than it was (never below a snapshot's index); Raft treats it as
// volatile, and the node learns it again from the leader (or, alone, by
// committing an entry of its new term), so the entries in between are handed
// out again and the state machine skips what it already applied.
//
// A crash between the hard-state save and the log sync can leave a commit
// index past the durable log. Nothing was applied or acknowledged past the
// durable log (that happens only after persist() returns), so open() lowers
// such a commit index to the last log index.
//
// Thread-safety: the core's reads may run concurrently with persist() and
// compact() on one other thread (the LogStore allows one writer and
// concurrent readers).
#pragma once

#include <memory>
#include <mutex>

#include "raft/storage.h"
#include "raft/types.h"
#include "storage/hard_state_store.h"
#include "storage/log_store.h"
#include "storage/status.h"

namespace dengine::storage {

class DurableStorage final : public raft::Storage {
 public:
  // Takes the stores and the metadata of the latest complete snapshot (index
  // 0 when there is none), and brings the log in line with that snapshot if
  // a crash interrupted the previous compaction or snapshot install: the
  // entries it covers are purged, or the log is reset to it when the log
  // does not reach it or disagrees with it. kCorruption if the log was
  // purged past the snapshot (entries would be missing).
  static Status open(std::unique_ptr<LogStore> log,
                     std::unique_ptr<HardStateStore> hard_state,
                     const raft::SnapshotMeta& snapshot,
                     std::unique_ptr<DurableStorage>* out);

  // raft::Storage. raft::StorageError has no code for an I/O error or for
  // corruption: such a read failure is reported to the core as kUnavailable
  // and kept in read_error(), which the node checks after each step (a node
  // whose storage fails to read must stop).
  raft::InitialState initial_state() const override;
  raft::Index first_index() const override;
  raft::Index last_index() const override;
  raft::StorageError term(raft::Index index, raft::Term* out) const override;
  raft::StorageError entries(raft::Index lo, raft::Index hi, uint64_t max_bytes,
                             std::vector<raft::Entry>* out) const override;
  // The latest snapshot's metadata; the files live in the SnapshotStore.
  raft::Snapshot snapshot() const override;

  // Makes a Ready durable (see the write order above).
  Status persist(const raft::Ready& ready);
  // After a local snapshot at meta.index (complete in the SnapshotStore):
  // remembers it and purges the log up to it.
  Status compact(const raft::SnapshotMeta& meta);
  // The first read failure hidden from the core, or ok.
  Status read_error() const;
  // Syncs and closes the log and saves the latest hard state.
  Status close();

  LogStore* log_store() { return log_.get(); }

 private:
  DurableStorage(std::unique_ptr<LogStore> log,
                 std::unique_ptr<HardStateStore> hard_state)
      : log_(std::move(log)), hard_state_store_(std::move(hard_state)) {}
  Status reconcile(const raft::SnapshotMeta& snapshot);
  raft::StorageError report(const Status& status) const;

  std::unique_ptr<LogStore> log_;
  std::unique_ptr<HardStateStore> hard_state_store_;
  // Guards the fields below.
  mutable std::mutex mutex_;
  raft::HardState hard_state_;
  // What the store holds; written only by the persisting thread (and open).
  raft::HardState saved_hard_state_;
  raft::SnapshotMeta snapshot_;
  mutable Status read_error_;
};

}  // namespace dengine::storage
