// DurableStorage: the Raft core's Storage over a LogStore, a HardStateStore
// and the latest snapshot's metadata; the node layer reads through it (the
// raft::Storage side) and writes each Ready through persist().
//
// Write order for one Ready (lib/raft/types.h): the snapshot resets the log
// to its index and term; the entries are appended (replacing any held suffix
// from their first index); when term or vote changed, the log is synced
// first if it holds anything unsynced, then the hard state is saved (durable
// at once); otherwise, if the Ready must be synced, one log sync() makes the
// entries durable. A Ready syncs the log once at most. The snapshot's
// files must already be complete in the SnapshotStore.
//
// Why the sync comes before the save: the saved hard state carries the
// commit index, which may cover entries this very Ready wrote over older
// ones of an earlier term. Were the hard state durable first, a power loss
// before the log's sync would bring back the old entries under a commit
// index that names them, and they would be applied as committed. Lowering
// the commit index to the last log index on open() cannot tell them apart.
// close() keeps the same order: sync, then save.
//
// The commit index alone is not worth a synced save per batch: it is saved
// with term and vote changes and by close(). After a crash it may come back
// lower than it was (never below a snapshot's index); Raft treats it as
// volatile, and the node learns it again from the leader (or, alone, by
// committing an entry of its new term), so the entries in between are handed
// out again and the state machine skips what it already applied. open()
// still lowers a commit index past the last log index, as a hard state
// saved by an earlier release (which saved before syncing) may hold one.
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

  // Makes a Ready durable (see the write order above). Nothing of it may be
  // applied or acknowledged before this returns.
  Status persist(const raft::Ready& ready);
  // Takes a hard state that changed only its commit index (the Ready it
  // came in had no entries, no snapshot and must_sync false) in memory, on
  // the caller's thread, with no disk access: the same as persist() does
  // with it, as the commit index is saved only with term and vote changes.
  // Not while persist() runs.
  void note_volatile(const raft::HardState& hard_state);
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
