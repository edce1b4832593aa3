// A durable Raft log. Implementations: the segmented write-ahead log
// (wal_log_store.h, the default) and RocksDB (rocksdb_log_store.h). Both pass
// the conformance suite in lib/testkit/log_store_suite.h.
//
// Durability: append() and truncate_suffix() take effect at once for readers
// but are durable only after sync(), which covers everything before it with
// one fdatasync (group commit). close() syncs. A crash loses at most what was
// not synced, never anything synced, and never invents entries.
//
// Thread-safety: one writer thread; readers (entries, term, first/last index)
// may run concurrently with the writer and with each other.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "raft/types.h"
#include "storage/status.h"

namespace dengine::storage {

class LogStore {
 public:
  virtual ~LogStore() = default;

  // Index of the first entry held (1 for a new log; purge point + 1 after a
  // purge or reset).
  virtual raft::Index first_index() const = 0;
  // Index of the last entry held (first_index() - 1 when empty).
  virtual raft::Index last_index() const = 0;
  // The highest index covered by a completed sync().
  virtual raft::Index durable_index() const = 0;

  // Term of the entry at index. The entry just before first_index() (the
  // purge or reset point) is answerable too; kCompacted below that,
  // kUnavailable past last_index().
  virtual Status term(raft::Index index, raft::Term* out) const = 0;
  // Appends to *out the entries in [lo, hi), stopping before the data bytes
  // would exceed max_bytes (at least one entry is returned). kCompacted if
  // lo < first_index(), kUnavailable if hi > last_index() + 1.
  virtual Status entries(raft::Index lo, raft::Index hi, uint64_t max_bytes,
                         std::vector<raft::Entry>* out) const = 0;

  // Appends entries with consecutive indexes. If the first index is at or
  // below last_index(), the held entries from there on are replaced (a Raft
  // conflict). The first index must be in [first_index(), last_index() + 1].
  virtual Status append(const std::vector<raft::Entry>& entries) = 0;
  // Removes the entries from `index` on (no-op if index > last_index()).
  virtual Status truncate_suffix(raft::Index index) = 0;
  // Discards the entries up to and including `index` (<= last_index()),
  // remembering its term. Space is reclaimed lazily (whole segments).
  virtual Status purge_prefix(raft::Index index) = 0;
  // Discards everything; the log restarts empty after (index, term), as after
  // installing a snapshot that ends there.
  virtual Status reset(raft::Index index, raft::Term term) = 0;
  // Makes everything appended, truncated, purged or reset so far durable.
  virtual Status sync() = 0;
  // Syncs and releases files; every later call returns kClosed.
  virtual Status close() = 0;
};

}  // namespace dengine::storage
