// The Raft log, and optionally the hard state, in a RocksDB database.
//
// Layout: column family "log" maps the 8-byte big-endian index (so that key
// order is index order) to [format version][term, 8 bytes LE][type][data];
// column family "meta" holds the purge point ("purge_point": version, index,
// term) and the hard state ("hard_state": version, term, vote, commit).
//
// Checksums: RocksDB checksums every WAL record (CRC32C) and every SST block
// (XXH3), and the database is opened with paranoid checks and the
// kTolerateCorruptedTailRecords WAL recovery mode: a torn last record is cut,
// any other damage fails the open with kCorruption instead of silently
// dropping the records after it. Values carry a format version byte and are
// validated when decoded, so an unknown or malformed value is kCorruption too.
//
// Durability: append, truncate_suffix, purge_prefix and reset are unsynced
// writes (WriteBatch, sync=false): they reach the WAL at once and so survive
// a process crash, but not a power loss. sync() makes all of them durable with
// one WAL fsync, skipped when a synced hard-state write has already covered
// them. HardStateStore::save() is a synced write.
#pragma once

#include <memory>
#include <string>

#include "storage/hard_state_store.h"
#include "storage/log_store.h"
#include "storage/status.h"

namespace dengine::storage {

struct RocksDbLogOptions {
  // Directory of the database; created if missing.
  std::string path;
  // Size of one memtable; larger values mean fewer, larger flushes.
  size_t write_buffer_bytes = 64ull << 20;
};

// Opens (creating) a database holding only a log store.
Status open_rocksdb_log_store(const RocksDbLogOptions& options,
                              std::unique_ptr<LogStore>* out);

// Opens (creating) a database holding a log store and a hard-state store that
// share one WAL, so a synced hard-state save also makes every earlier log
// write durable. The database closes when both stores are destroyed;
// LogStore::close() syncs and stops the log store only.
Status open_rocksdb_stores(const RocksDbLogOptions& options,
                           std::unique_ptr<LogStore>* log,
                           std::unique_ptr<HardStateStore>* hard_state);

}  // namespace dengine::storage
