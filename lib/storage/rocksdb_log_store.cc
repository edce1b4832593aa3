#include "storage/rocksdb_log_store.h"

#include <rocksdb/iterator.h>
#include <rocksdb/slice.h>

#include <limits>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>

#include "base/byte_codec.h"
#include "storage/rocksdb_db.h"

namespace dengine::storage {

namespace {

constexpr uint8_t kEntryFormat = 1;
constexpr uint8_t kPurgePointFormat = 1;
constexpr char kPurgePointKey[] = "purge_point";
// version + term + type
constexpr size_t kEntryHeaderBytes = 1 + 8 + 1;

// Big-endian, so that RocksDB's bytewise key order is index order.
std::string index_key(raft::Index index) {
  std::string key(8, '\0');
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(index >> (56 - 8 * i));
  return key;
}

bool decode_index_key(const rocksdb::Slice& key, raft::Index* index) {
  if (key.size() != 8) return false;
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) {
    value = (value << 8) | static_cast<uint8_t>(key[i]);
  }
  *index = value;
  return true;
}

std::string encode_entry(const raft::Entry& entry) {
  std::string value;
  value.reserve(kEntryHeaderBytes + entry.data.size());
  value.push_back(static_cast<char>(kEntryFormat));
  base::append_fixed(&value, entry.term, 8);
  value.push_back(static_cast<char>(entry.type));
  value.append(entry.data);
  return value;
}

bool decode_entry(raft::Index index, const rocksdb::Slice& value,
                  raft::Entry* out) {
  if (value.size() < kEntryHeaderBytes) return false;
  if (static_cast<uint8_t>(value[0]) != kEntryFormat) return false;
  const auto type = static_cast<uint8_t>(value[9]);
  if (type > static_cast<uint8_t>(raft::EntryType::kConfChange)) return false;
  out->index = index;
  out->term = base::decode_fixed(value.data() + 1, 8);
  out->type = static_cast<raft::EntryType>(type);
  out->data.assign(value.data() + kEntryHeaderBytes,
                   value.size() - kEntryHeaderBytes);
  return true;
}

std::string encode_purge_point(raft::Index index, raft::Term term) {
  std::string value(1, static_cast<char>(kPurgePointFormat));
  base::append_fixed(&value, index, 8);
  base::append_fixed(&value, term, 8);
  return value;
}

bool decode_purge_point(const std::string& value, raft::Index* index,
                        raft::Term* term) {
  if (value.size() != 17) return false;
  if (static_cast<uint8_t>(value[0]) != kPurgePointFormat) return false;
  *index = base::decode_fixed(value.data() + 1, 8);
  *term = base::decode_fixed(value.data() + 9, 8);
  return true;
}

class RocksDbLogStore final : public LogStore {
 public:
  explicit RocksDbLogStore(std::shared_ptr<RocksDb> db) : db_(std::move(db)) {}
  ~RocksDbLogStore() override {
    // close() syncs; a destructor has no one to report a failure to.
    if (db_) (void)close();
  }

  Status load();

  raft::Index first_index() const override {
    std::shared_lock lock(mutex_);
    return first_index_;
  }
  raft::Index last_index() const override {
    std::shared_lock lock(mutex_);
    return last_index_;
  }
  raft::Index durable_index() const override {
    std::shared_lock lock(mutex_);
    return durable_index_;
  }

  Status term(raft::Index index, raft::Term* out) const override;
  Status entries(raft::Index lo, raft::Index hi, uint64_t max_bytes,
                 std::vector<raft::Entry>* out) const override;
  Status append(const std::vector<raft::Entry>& entries) override;
  Status truncate_suffix(raft::Index index) override;
  Status purge_prefix(raft::Index index) override;
  Status reset(raft::Index index, raft::Term term) override;
  Status sync() override;
  Status close() override;

 private:
  Status closed_error() const {
    return Status::error(StatusCode::kClosed, "RocksDB log store is closed");
  }
  Status corrupt_entry(raft::Index index) const {
    return Status::corruption("malformed log entry at index " +
                              std::to_string(index) + " in " + path_);
  }
  // Applies a batch and the new bounds together, so readers never see one
  // without the other. Called by the writer thread only.
  Status commit(rocksdb::WriteBatch* batch, raft::Index first, raft::Index last,
                raft::Term purge_term);

  std::shared_ptr<RocksDb> db_;
  std::string path_;
  // Guards the bounds below and db_ against close(); the writer holds it
  // exclusively only around its RocksDB write, so readers see each batch
  // either whole or not at all.
  mutable std::shared_mutex mutex_;
  raft::Index first_index_ = 1;
  raft::Index last_index_ = 0;
  raft::Term purge_term_ = 0;  // term at first_index_ - 1
  raft::Index durable_index_ = 0;
  // A sequence number at or after the latest log write.
  uint64_t last_write_sequence_ = 0;
};

Status RocksDbLogStore::load() {
  path_ = db_->path();
  std::string value;
  rocksdb::Status s = db_->db()->Get(rocksdb::ReadOptions(), db_->meta_family(),
                                     kPurgePointKey, &value);
  raft::Index purge_index = 0;
  if (s.ok()) {
    if (!decode_purge_point(value, &purge_index, &purge_term_)) {
      return Status::corruption("malformed purge point in " + path_);
    }
  } else if (!s.IsNotFound()) {
    return db_->convert(s, "read of the purge point");
  }
  first_index_ = purge_index + 1;
  last_index_ = purge_index;

  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->log_family()));
  it->SeekToLast();
  if (it->Valid()) {
    raft::Index last = 0;
    if (!decode_index_key(it->key(), &last)) {
      return Status::corruption("malformed log key in " + path_);
    }
    it->SeekToFirst();
    raft::Index first = 0;
    if (!it->Valid() || !decode_index_key(it->key(), &first)) {
      return Status::corruption("malformed log key in " + path_);
    }
    // Purges and resets delete the entries and move the purge point in one
    // batch, so the held entries start right after the purge point.
    if (first != first_index_ || last < first) {
      return Status::corruption(
          "log in " + path_ + " holds entries " + std::to_string(first) + ".." +
          std::to_string(last) + " but its purge point is " +
          std::to_string(purge_index));
    }
    last_index_ = last;
  }
  if (!it->status().ok()) return db_->convert(it->status(), "log scan");
  // Everything that survived a reopen is as durable as it will get.
  durable_index_ = last_index_;
  return Status::ok();
}

Status RocksDbLogStore::term(raft::Index index, raft::Term* out) const {
  std::shared_lock lock(mutex_);
  if (!db_) return closed_error();
  if (index + 1 == first_index_) {
    *out = purge_term_;
    return Status::ok();
  }
  if (index < first_index_) {
    return Status::error(StatusCode::kCompacted,
                         "index " + std::to_string(index) +
                             " is purged (first index " +
                             std::to_string(first_index_) + ")");
  }
  if (index > last_index_) {
    return Status::error(StatusCode::kUnavailable,
                         "index " + std::to_string(index) +
                             " is past the last index " +
                             std::to_string(last_index_));
  }
  std::string value;
  rocksdb::Status s = db_->db()->Get(rocksdb::ReadOptions(), db_->log_family(),
                                     index_key(index), &value);
  if (s.IsNotFound()) {
    return Status::corruption("log entry " + std::to_string(index) +
                              " is missing in " + path_);
  }
  if (!s.ok()) return db_->convert(s, "read of entry " + std::to_string(index));
  raft::Entry entry;
  if (!decode_entry(index, value, &entry)) return corrupt_entry(index);
  *out = entry.term;
  return Status::ok();
}

Status RocksDbLogStore::entries(raft::Index lo, raft::Index hi,
                                uint64_t max_bytes,
                                std::vector<raft::Entry>* out) const {
  std::shared_lock lock(mutex_);
  if (!db_) return closed_error();
  if (lo > hi) {
    return Status::invalid_argument("entries: lo " + std::to_string(lo) +
                                    " > hi " + std::to_string(hi));
  }
  if (lo < first_index_) {
    return Status::error(StatusCode::kCompacted,
                         "index " + std::to_string(lo) +
                             " is purged (first index " +
                             std::to_string(first_index_) + ")");
  }
  if (hi > last_index_ + 1) {
    return Status::error(StatusCode::kUnavailable,
                         "index " + std::to_string(hi - 1) +
                             " is past the last index " +
                             std::to_string(last_index_));
  }
  if (lo == hi) return Status::ok();

  const std::string upper = index_key(hi);
  const rocksdb::Slice upper_bound(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(read_options, db_->log_family()));
  uint64_t bytes = 0;
  raft::Index expected = lo;
  for (it->Seek(index_key(lo)); it->Valid() && expected < hi; it->Next()) {
    raft::Index index = 0;
    if (!decode_index_key(it->key(), &index) || index != expected) {
      return Status::corruption("log entry " + std::to_string(expected) +
                                " is missing in " + path_);
    }
    raft::Entry entry;
    if (!decode_entry(index, it->value(), &entry)) return corrupt_entry(index);
    bytes += entry.data.size();
    if (index > lo && bytes > max_bytes) return Status::ok();
    out->push_back(std::move(entry));
    ++expected;
  }
  if (!it->status().ok()) return db_->convert(it->status(), "log read");
  if (expected != hi) {
    return Status::corruption("log entry " + std::to_string(expected) +
                              " is missing in " + path_);
  }
  return Status::ok();
}

Status RocksDbLogStore::commit(rocksdb::WriteBatch* batch, raft::Index first,
                               raft::Index last, raft::Term purge_term) {
  std::unique_lock lock(mutex_);
  uint64_t sequence = 0;
  Status s = db_->write(batch, &sequence);
  if (!s) return s;
  last_write_sequence_ = sequence;
  first_index_ = first;
  last_index_ = last;
  purge_term_ = purge_term;
  durable_index_ = std::min(durable_index_, last_index_);
  return Status::ok();
}

Status RocksDbLogStore::append(const std::vector<raft::Entry>& entries) {
  if (!db_) return closed_error();
  if (entries.empty()) return Status::ok();
  const raft::Index start = entries.front().index;
  if (start < first_index_ || start > last_index_ + 1) {
    return Status::invalid_argument("append at index " + std::to_string(start) +
                                    " outside [" +
                                    std::to_string(first_index_) + ", " +
                                    std::to_string(last_index_ + 1) + "]");
  }
  rocksdb::WriteBatch batch;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].index != start + i) {
      return Status::invalid_argument(
          "append: entry " + std::to_string(i) + " has index " +
          std::to_string(entries[i].index) + ", expected " +
          std::to_string(start + i));
    }
    rocksdb::Status s = batch.Put(db_->log_family(), index_key(start + i),
                                  encode_entry(entries[i]));
    if (!s.ok()) return db_->convert(s, "append batch");
  }
  const raft::Index last = entries.back().index;
  if (last < last_index_) {
    // A conflict replaced a suffix: drop the old entries past the new end.
    rocksdb::Status s = batch.DeleteRange(
        db_->log_family(), index_key(last + 1), index_key(last_index_ + 1));
    if (!s.ok()) return db_->convert(s, "append batch");
  }
  // Entries at or after `start` are rewritten; none of them was synced in its
  // new form.
  {
    std::unique_lock lock(mutex_);
    durable_index_ = std::min(durable_index_, start - 1);
  }
  return commit(&batch, first_index_, last, purge_term_);
}

Status RocksDbLogStore::truncate_suffix(raft::Index index) {
  if (!db_) return closed_error();
  if (index > last_index_) return Status::ok();
  if (index < first_index_) {
    return Status::invalid_argument(
        "truncate_suffix at index " + std::to_string(index) +
        " below the first index " + std::to_string(first_index_));
  }
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.DeleteRange(db_->log_family(), index_key(index),
                                        index_key(last_index_ + 1));
  if (!s.ok()) return db_->convert(s, "truncate batch");
  return commit(&batch, first_index_, index - 1, purge_term_);
}

Status RocksDbLogStore::purge_prefix(raft::Index index) {
  if (!db_) return closed_error();
  if (index < first_index_) return Status::ok();
  if (index > last_index_) {
    return Status::invalid_argument(
        "purge_prefix at index " + std::to_string(index) +
        " past the last index " + std::to_string(last_index_));
  }
  raft::Term purge_term = 0;
  Status st = term(index, &purge_term);
  if (!st) return st;
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.DeleteRange(
      db_->log_family(), index_key(first_index_), index_key(index + 1));
  if (s.ok()) {
    s = batch.Put(db_->meta_family(), kPurgePointKey,
                  encode_purge_point(index, purge_term));
  }
  if (!s.ok()) return db_->convert(s, "purge batch");
  return commit(&batch, index + 1, last_index_, purge_term);
}

Status RocksDbLogStore::reset(raft::Index index, raft::Term term) {
  if (!db_) return closed_error();
  if (index == std::numeric_limits<raft::Index>::max()) {
    return Status::invalid_argument("reset at the largest possible index");
  }
  rocksdb::WriteBatch batch;
  rocksdb::Status s =
      batch.DeleteRange(db_->log_family(), index_key(0),
                        index_key(std::numeric_limits<raft::Index>::max()));
  if (s.ok()) {
    s = batch.Put(db_->meta_family(), kPurgePointKey,
                  encode_purge_point(index, term));
  }
  if (!s.ok()) return db_->convert(s, "reset batch");
  {
    std::unique_lock lock(mutex_);
    durable_index_ = std::min(durable_index_, index);
  }
  return commit(&batch, index + 1, index, term);
}

Status RocksDbLogStore::sync() {
  if (!db_) return closed_error();
  const raft::Index target = last_index_;
  // A synced hard-state write may already have covered every log write.
  if (db_->durable_sequence() < last_write_sequence_) {
    Status s = db_->sync_wal();
    if (!s) return s;
  }
  std::unique_lock lock(mutex_);
  durable_index_ = target;
  return Status::ok();
}

Status RocksDbLogStore::close() {
  if (!db_) return closed_error();
  Status s = sync();
  std::unique_lock lock(mutex_);
  db_.reset();
  return s;
}

}  // namespace

Status make_rocksdb_log_store(std::shared_ptr<RocksDb> db,
                              std::unique_ptr<LogStore>* out) {
  auto store = std::make_unique<RocksDbLogStore>(std::move(db));
  Status s = store->load();
  if (!s) return s;
  *out = std::move(store);
  return Status::ok();
}

Status open_rocksdb_log_store(const RocksDbLogOptions& options,
                              std::unique_ptr<LogStore>* out) {
  std::shared_ptr<RocksDb> db;
  Status s = RocksDb::open(options, &db);
  if (!s) return s;
  return make_rocksdb_log_store(std::move(db), out);
}

Status open_rocksdb_stores(const RocksDbLogOptions& options,
                           std::unique_ptr<LogStore>* log,
                           std::unique_ptr<HardStateStore>* hard_state) {
  std::shared_ptr<RocksDb> db;
  Status s = RocksDb::open(options, &db);
  if (!s) return s;
  std::unique_ptr<LogStore> log_store;
  s = make_rocksdb_log_store(db, &log_store);
  if (!s) return s;
  *hard_state = make_rocksdb_hard_state_store(std::move(db));
  *log = std::move(log_store);
  return Status::ok();
}

}  // namespace dengine::storage
