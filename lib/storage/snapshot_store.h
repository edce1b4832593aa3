// Snapshots on disk. A snapshot is a directory of files written by the state
// machine, plus metadata: the last included index and term, the membership at
// that index, and a SHA-256 over the contents (file names and bytes, in name
// order). It is written under a temporary name and renamed into place only
// when complete and synced, so a crash never leaves a half snapshot visible.
// The newest `keep` snapshots are kept; older ones are removed.
//
// A snapshot received from a leader is first staged: complete, verified and
// synced, but not visible, until the Raft core installs it. Until then it is
// only the leader's offer: the core may refuse it (a stale term, an index it
// has already committed), and a restart must not recover from it.
//
// Layout under the store's directory:
//   snap-<index 20 digits>-<term 20 digits>/   one complete snapshot
//     data/                                     the state machine's files
//     META                                      checksummed metadata
//   staged-<...>/                               received, not yet installed
//                                               (removed on open)
//   tmp-<...>/                                  in progress (removed on open)
//
// Thread-safety: all calls are serialized by the store.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "raft/types.h"
#include "storage/status.h"

namespace dengine::storage {

struct SnapshotInfo {
  raft::SnapshotMeta meta;
  std::string sha256;    // lowercase hex, 64 characters
  std::string data_dir;  // absolute path of the snapshot's data/ directory
  uint64_t bytes = 0;    // total size of the files in data_dir
};

// Hex SHA-256 over a directory's regular files: for each file in name order
// (recursively, '/'-separated relative names), its name, a NUL, its size as
// 8 little-endian bytes, then its bytes.
Status sha256_of_dir(const std::string& dir, std::string* hex_out);

class SnapshotStore;
class StagedSnapshot;

// A snapshot being written. Write the state machine's files into data_dir(),
// then commit() or stage(); destroying it without either discards it.
class SnapshotWriter {
 public:
  ~SnapshotWriter();
  const std::string& data_dir() const { return data_dir_; }
  // Checksums the contents, syncs, and makes the snapshot visible. If
  // `expected_sha256` is non-empty and does not match, fails with
  // kCorruption and discards the snapshot.
  Status commit(const std::string& expected_sha256, SnapshotInfo* out);
  // For a snapshot received from a leader: checksums the contents against
  // `expected_sha256` (a mismatch fails with kCorruption and discards the
  // snapshot) and syncs them, but keeps the snapshot out of latest() and
  // list() until StagedSnapshot::commit().
  Status stage(const std::string& expected_sha256,
               std::unique_ptr<StagedSnapshot>* out);
  void abort();

 private:
  friend class SnapshotStore;
  SnapshotWriter(SnapshotStore* store, raft::SnapshotMeta meta,
                 std::string tmp_dir);
  SnapshotStore* store_;
  raft::SnapshotMeta meta_;
  std::string tmp_dir_;
  std::string data_dir_;
  bool done_ = false;
};

// A received snapshot, complete and durable but not visible. Destroying it
// without commit() removes its files; a crash leaves them for open() to
// remove (the leader sends the snapshot again if it is still needed).
class StagedSnapshot {
 public:
  ~StagedSnapshot();
  StagedSnapshot(const StagedSnapshot&) = delete;
  StagedSnapshot& operator=(const StagedSnapshot&) = delete;
  // data_dir is the staged copy's; commit() moves it.
  const SnapshotInfo& info() const { return info_; }
  // Makes the snapshot the store's latest, durably, as SnapshotWriter::commit
  // does; *out describes it in its final place.
  Status commit(SnapshotInfo* out);

 private:
  friend class SnapshotStore;
  StagedSnapshot(SnapshotStore* store, std::string dir, SnapshotInfo info);
  SnapshotStore* store_;
  std::string dir_;
  SnapshotInfo info_;
  bool done_ = false;
};

class SnapshotStore {
 public:
  // Opens (creating) the store in `dir`, removing leftovers of interrupted
  // writes and staged snapshots.
  static Status open(const std::string& dir, int keep,
                     std::unique_ptr<SnapshotStore>* out);

  Status begin(const raft::SnapshotMeta& meta,
               std::unique_ptr<SnapshotWriter>* out);
  // The newest complete snapshot; kNotFound if there is none.
  Status latest(SnapshotInfo* out) const;
  // All complete snapshots, oldest first.
  Status list(std::vector<SnapshotInfo>* out) const;
  // Recomputes the SHA-256 of a stored snapshot; kCorruption on mismatch.
  Status verify(const SnapshotInfo& info) const;

 private:
  friend class SnapshotWriter;
  friend class StagedSnapshot;
  SnapshotStore(std::string dir, int keep);
  Status commit(SnapshotWriter* writer, const std::string& expected_sha256,
                SnapshotInfo* out);
  Status stage(SnapshotWriter* writer, const std::string& expected_sha256,
               std::unique_ptr<StagedSnapshot>* out);
  Status commit(StagedSnapshot* staged, SnapshotInfo* out);
  // The steps of those three, with mutex_ held.
  Status seal(SnapshotWriter* writer, const std::string& expected_sha256,
              SnapshotInfo* info);
  Status publish(const std::string& from_dir, SnapshotInfo info,
                 SnapshotInfo* out);
  Status remove_beyond_keep();

  std::string dir_;
  int keep_;
  mutable std::mutex mutex_;
};

}  // namespace dengine::storage
