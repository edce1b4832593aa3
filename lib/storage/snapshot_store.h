// Snapshots on disk. A snapshot is a directory of files written by the state
// machine, plus metadata: the last included index and term, the membership at
// that index, and a SHA-256 over the contents (file names and bytes, in name
// order). It is written under a temporary name and renamed into place only
// when complete and synced, so a crash never leaves a half snapshot visible.
// The newest `keep` snapshots are kept; older ones are removed.
//
// Layout under the store's directory:
//   snap-<index 20 digits>-<term 20 digits>/   one complete snapshot
//     data/                                     the state machine's files
//     META                                      checksummed metadata
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

// A snapshot being written. Write the state machine's files into data_dir(),
// then commit(); destroying it without commit() discards it.
class SnapshotWriter {
 public:
  ~SnapshotWriter();
  const std::string& data_dir() const { return data_dir_; }
  // Checksums the contents, syncs, and makes the snapshot visible. If
  // `expected_sha256` is non-empty (a snapshot received from a leader) and
  // does not match, fails with kCorruption and discards the snapshot.
  Status commit(const std::string& expected_sha256, SnapshotInfo* out);
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

class SnapshotStore {
 public:
  // Opens (creating) the store in `dir`, removing leftovers of interrupted
  // writes.
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
  SnapshotStore(std::string dir, int keep);
  Status install(SnapshotWriter* writer, const std::string& expected_sha256,
                 SnapshotInfo* out);

  std::string dir_;
  int keep_;
  mutable std::mutex mutex_;
};

}  // namespace dengine::storage
