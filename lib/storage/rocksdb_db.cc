#include "storage/rocksdb_db.h"

#include <rocksdb/options.h>

#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

namespace dengine::storage {

namespace {

constexpr char kLogFamily[] = "log";
constexpr char kMetaFamily[] = "meta";

}  // namespace

Status RocksDb::open(const RocksDbLogOptions& options,
                     std::shared_ptr<RocksDb>* out) {
  if (options.path.empty()) {
    return Status::invalid_argument("RocksDB log store: empty path");
  }
  // RocksDB creates only the last directory level itself.
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return Status::io("create " + options.path + ": " + ec.message());
  }
  std::shared_ptr<RocksDb> db(new RocksDb(options.path));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  // A torn last WAL record (crash mid-write) is cut; damage anywhere else
  // refuses the open rather than dropping the records after it.
  db_options.wal_recovery_mode =
      rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;

  rocksdb::ColumnFamilyOptions family_options;
  family_options.write_buffer_size = options.write_buffer_bytes;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, family_options},
      {kLogFamily, family_options},
      {kMetaFamily, family_options},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, families, &handles, &db->db_);
  if (!s.ok()) return db->convert(s, "open");
  db->default_family_ = handles[0];
  db->log_family_ = handles[1];
  db->meta_family_ = handles[2];
  *out = std::move(db);
  return Status::ok();
}

RocksDb::~RocksDb() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* handle :
       {default_family_, log_family_, meta_family_}) {
    // Cannot fail for handles returned by Open; nothing to report at teardown.
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();
  delete db_;
}

Status RocksDb::write(rocksdb::WriteBatch* batch, uint64_t* sequence) {
  rocksdb::WriteOptions write_options;
  write_options.sync = false;
  rocksdb::Status s = db_->Write(write_options, batch);
  if (!s.ok()) return convert(s, "write");
  *sequence = db_->GetLatestSequenceNumber();
  return Status::ok();
}

Status RocksDb::write_synced(rocksdb::WriteBatch* batch) {
  // Writes already completed precede this one in the WAL, so the fsync of
  // this write covers them.
  const uint64_t covered = db_->GetLatestSequenceNumber();
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  rocksdb::Status s = db_->Write(write_options, batch);
  if (!s.ok()) return convert(s, "synced write");
  note_durable(covered);
  return Status::ok();
}

Status RocksDb::sync_wal() {
  const uint64_t covered = db_->GetLatestSequenceNumber();
  rocksdb::Status s = db_->SyncWAL();
  if (!s.ok()) return convert(s, "WAL sync");
  note_durable(covered);
  return Status::ok();
}

void RocksDb::note_durable(uint64_t sequence) {
  uint64_t current = durable_sequence_.load();
  while (current < sequence &&
         !durable_sequence_.compare_exchange_weak(current, sequence)) {
  }
}

Status RocksDb::convert(const rocksdb::Status& status,
                        const std::string& what) const {
  if (status.ok()) return Status::ok();
  std::string message =
      "RocksDB " + what + " in " + path_ + ": " + status.ToString();
  if (status.IsCorruption()) return Status::corruption(std::move(message));
  if (status.IsInvalidArgument()) {
    return Status::invalid_argument(std::move(message));
  }
  return Status::io(std::move(message));
}

}  // namespace dengine::storage
