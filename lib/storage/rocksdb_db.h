// The RocksDB database shared by the RocksDB log store and hard-state store
// (internal to lib/storage). It owns the DB and its column family handles and
// tracks how far the WAL is known to be durable, so that a log sync() after a
// synced hard-state write needs no second fsync.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/hard_state_store.h"
#include "storage/log_store.h"
#include "storage/rocksdb_log_store.h"
#include "storage/status.h"

namespace dengine::storage {

class RocksDb {
 public:
  static Status open(const RocksDbLogOptions& options,
                     std::shared_ptr<RocksDb>* out);
  ~RocksDb();
  RocksDb(const RocksDb&) = delete;
  RocksDb& operator=(const RocksDb&) = delete;

  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* log_family() const { return log_family_; }
  rocksdb::ColumnFamilyHandle* meta_family() const { return meta_family_; }
  const std::string& path() const { return path_; }

  // An unsynced write. *sequence receives a sequence number at or after the
  // write's own, to compare with durable_sequence() later.
  Status write(rocksdb::WriteBatch* batch, uint64_t* sequence);
  // A write that is durable when this returns, together with every write
  // that completed before it (the WAL is one ordered file sequence).
  Status write_synced(rocksdb::WriteBatch* batch);
  // Makes every completed write durable (one WAL fsync).
  Status sync_wal();
  // Every write with a sequence number up to this one is durable.
  uint64_t durable_sequence() const { return durable_sequence_.load(); }

  // Converts a RocksDB status, naming the operation and the database.
  Status convert(const rocksdb::Status& status, const std::string& what) const;

 private:
  explicit RocksDb(std::string path) : path_(std::move(path)) {}
  void note_durable(uint64_t sequence);

  std::string path_;
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* default_family_ = nullptr;
  rocksdb::ColumnFamilyHandle* log_family_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_family_ = nullptr;
  std::atomic<uint64_t> durable_sequence_{0};
};

// Stores over an open database (implemented in rocksdb_log_store.cc and
// rocksdb_hard_state_store.cc).
Status make_rocksdb_log_store(std::shared_ptr<RocksDb> db,
                              std::unique_ptr<LogStore>* out);
std::unique_ptr<HardStateStore> make_rocksdb_hard_state_store(
    std::shared_ptr<RocksDb> db);

}  // namespace dengine::storage
