#include "sm/rocksdb_kv_machine.h"

#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "base/byte_codec.h"
#include "sm/kv_apply.h"
#include "sm/kv_read.h"
#include "sm/kv_store.h"
#include "storage/file_system.h"

namespace dengine::sm {

using base::ByteReader;
using base::ByteWriter;

using storage::Status;

namespace {

constexpr char kKvFamily[] = "kv";
constexpr char kExpiryFamily[] = "expiry";
constexpr char kMetaFamily[] = "meta";
constexpr char kLastAppliedKey[] = "last_applied";
constexpr char kClockKey[] = "clock_ms";
constexpr char kKeyCountKey[] = "key_count";
constexpr size_t kCopyBlock = size_t{1} << 20;

Status convert(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::ok();
  std::string message = what + ": " + s.ToString();
  if (s.IsCorruption()) return Status::corruption(std::move(message));
  if (s.IsInvalidArgument()) {
    return Status::invalid_argument(std::move(message));
  }
  return Status::io(std::move(message));
}

std::string fixed64(uint64_t v) {
  std::string out;
  ByteWriter(&out).u64(v);
  return out;
}

// Big-endian, so that the index sorts by expiry time.
std::string expiry_key(uint64_t expire_at_ms, std::string_view key) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(expire_at_ms >> (8 * (7 - i)));
  }
  out.append(key);
  return out;
}

uint64_t expiry_of_index_key(const rocksdb::Slice& k) {
  uint64_t at = 0;
  for (size_t i = 0; i < 8 && i < k.size(); ++i) {
    at = (at << 8) | static_cast<uint8_t>(k[i]);
  }
  return at;
}

// Copies the regular files of `from` into a new directory `to`.
Status copy_dir(storage::FileSystem* fs, const std::string& from,
                const std::string& to) {
  std::vector<std::string> names;
  if (Status s = fs->list(from, &names); !s) return s;
  if (Status s = fs->create_dirs(to); !s) return s;
  for (const std::string& name : names) {
    std::unique_ptr<storage::File> src;
    std::unique_ptr<storage::File> dst;
    if (Status s = fs->open(from + "/" + name, false, &src); !s) return s;
    if (Status s = fs->open(to + "/" + name, true, &dst); !s) return s;
    std::string block;
    for (uint64_t offset = 0; offset < src->size(); offset += block.size()) {
      if (Status s = src->read(offset, kCopyBlock, &block); !s) return s;
      if (block.empty()) break;
      if (Status s = dst->write(offset, block); !s) return s;
    }
  }
  return Status::ok();
}

// Syncs every file in `dir`, then the directory itself.
Status sync_dir_files(storage::FileSystem* fs, const std::string& dir) {
  std::vector<std::string> names;
  if (Status s = fs->list(dir, &names); !s) return s;
  for (const std::string& name : names) {
    std::unique_ptr<storage::File> file;
    if (Status s = fs->open(dir + "/" + name, false, &file); !s) return s;
    if (Status s = file->sync(); !s) return s;
  }
  return fs->sync_dir(dir);
}

}  // namespace

struct RocksDbKvMachine::Database {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* kv = nullptr;
  rocksdb::ColumnFamilyHandle* expiry = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;

  static Status open(const std::string& dir, std::unique_ptr<Database>* out) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {kKvFamily, {}},
        {kExpiryFamily, {}},
        {kMetaFamily, {}}};
    auto d = std::make_unique<Database>();
    rocksdb::DB* raw = nullptr;
    if (Status s = convert(
            rocksdb::DB::Open(options, dir, families, &d->handles, &raw),
            "open KV database " + dir);
        !s) {
      return s;
    }
    d->db.reset(raw);
    d->kv = d->handles[1];
    d->expiry = d->handles[2];
    d->meta = d->handles[3];
    *out = std::move(d);
    return Status::ok();
  }

  ~Database() {
    if (!db) return;
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      db->DestroyColumnFamilyHandle(h);
    }
    db->Close();
  }

  // A meta value; 0 when absent (a new database).
  Status read_meta(const char* key, uint64_t* out,
                   const rocksdb::ReadOptions& options = {}) {
    std::string raw;
    rocksdb::Status s = db->Get(options, meta, key, &raw);
    *out = 0;
    if (s.IsNotFound()) return Status::ok();
    if (!s.ok()) return convert(s, std::string("read ") + key);
    if (!ByteReader(raw).u64(out) || raw.size() != 8) {
      return Status::corruption(std::string("malformed KV meta value ") + key);
    }
    return Status::ok();
  }

  Status get(const rocksdb::ReadOptions& options, std::string_view key,
             std::optional<StoredValue>* out) {
    std::string raw;
    rocksdb::Status s =
        db->Get(options, kv, rocksdb::Slice(key.data(), key.size()), &raw);
    out->reset();
    if (s.IsNotFound()) return Status::ok();
    if (!s.ok()) return convert(s, "get KV key");
    return decode_stored_value(raw, &out->emplace());
  }
};

namespace {

// The committed state as the applier sees it (apply thread only: nothing
// else writes, so no snapshot is needed).
class CommittedState final : public KvBaseStore {
 public:
  explicit CommittedState(RocksDbKvMachine::Database* d) : d_(d) {}

  Status get(std::string_view key, std::optional<StoredValue>* out) override {
    return d_->get(rocksdb::ReadOptions(), key, out);
  }

  Status expiring_keys(uint64_t after_ms, uint64_t up_to_ms,
                       std::vector<std::string>* out) override {
    if (after_ms == std::numeric_limits<uint64_t>::max()) return Status::ok();
    std::unique_ptr<rocksdb::Iterator> it(
        d_->db->NewIterator(rocksdb::ReadOptions(), d_->expiry));
    for (it->Seek(expiry_key(after_ms + 1, "")); it->Valid(); it->Next()) {
      if (expiry_of_index_key(it->key()) > up_to_ms) break;
      out->emplace_back(it->key().data() + 8, it->key().size() - 8);
    }
    return convert(it->status(), "scan KV expiry index");
  }

 private:
  RocksDbKvMachine::Database* d_;
};

// One RocksDB snapshot: every lookup of a query sees the same state.
class SnapshotView final : public KvReadView {
 public:
  explicit SnapshotView(RocksDbKvMachine::Database* d)
      : d_(d), snapshot_(d->db.get()) {
    options_.snapshot = snapshot_.snapshot();
  }

  Status revision(uint64_t* out) override {
    return d_->read_meta(kLastAppliedKey, out, options_);
  }

  Status get(std::string_view key, std::optional<std::string>* value) override {
    std::optional<StoredValue> stored;
    if (Status s = d_->get(options_, key, &stored); !s) return s;
    value->reset();
    if (stored) *value = std::move(stored->value);
    return Status::ok();
  }

  Status scan_prefix(std::string_view prefix, uint32_t limit,
                     std::vector<std::pair<std::string, std::string>>* entries,
                     bool* more) override {
    std::unique_ptr<rocksdb::Iterator> it(
        d_->db->NewIterator(options_, d_->kv));
    const rocksdb::Slice start(prefix.data(), prefix.size());
    *more = false;
    for (it->Seek(start); it->Valid() && it->key().starts_with(start);
         it->Next()) {
      if (entries->size() == limit) {
        *more = true;
        break;
      }
      StoredValue stored;
      if (Status s = decode_stored_value(it->value().ToStringView(), &stored);
          !s) {
        return s;
      }
      entries->emplace_back(it->key().ToString(), std::move(stored.value));
    }
    return convert(it->status(), "scan KV keys");
  }

 private:
  RocksDbKvMachine::Database* d_;
  rocksdb::ManagedSnapshot snapshot_;
  rocksdb::ReadOptions options_;
};

}  // namespace

RocksDbKvMachine::RocksDbKvMachine(std::string path) : path_(std::move(path)) {}

RocksDbKvMachine::~RocksDbKvMachine() = default;

Status RocksDbKvMachine::open(const std::string& path,
                              std::unique_ptr<RocksDbKvMachine>* out) {
  storage::FileSystem* fs = storage::posix_file_system();
  std::unique_ptr<RocksDbKvMachine> machine(new RocksDbKvMachine(path));
  const std::string live = path + "/db";
  const std::string staged = path + "/db.installing";
  const std::string old = path + "/db.old";
  if (Status s = fs->create_dirs(path); !s) return s;
  // A swap cut short after db was moved aside: db.installing is complete.
  if (!fs->exists(live) && fs->exists(old)) {
    const std::string& survivor = fs->exists(staged) ? staged : old;
    if (Status s = fs->rename(survivor, live); !s) return s;
    if (Status s = fs->sync_dir(path); !s) return s;
  }
  if (Status s = fs->remove_all(staged); !s) return s;
  if (Status s = fs->remove_all(old); !s) return s;
  if (Status s = machine->open_live_db(); !s) return s;
  *out = std::move(machine);
  return Status::ok();
}

Status RocksDbKvMachine::open_live_db() {
  std::unique_ptr<Database> d;
  if (Status s = Database::open(path_ + "/db", &d); !s) return s;
  uint64_t last_applied = 0;
  uint64_t clock_ms = 0;
  uint64_t key_count = 0;
  for (auto [key, value] :
       {std::pair{kLastAppliedKey, &last_applied},
        std::pair{kClockKey, &clock_ms}, std::pair{kKeyCountKey, &key_count}}) {
    if (Status s = d->read_meta(key, value); !s) return s;
  }
  last_applied_ = last_applied;
  clock_ms_ = clock_ms;
  key_count_ = key_count;
  db_ = std::move(d);
  return Status::ok();
}

Status RocksDbKvMachine::apply_chunk(
    const dengine_entry* entries, size_t count,
    std::vector<std::optional<KvResult>>* results,
    std::vector<watch::Event>* events,
    const std::function<void()>* before_commit) {
  std::shared_lock lock(db_mutex_);
  if (!db_) return Status::error(storage::StatusCode::kClosed, "KV closed");
  CommittedState committed(db_.get());
  KvChunkApplier applier(&committed, clock_ms_);
  applier.record_events(events);
  if (Status s = applier.apply_entries(entries, count, last_applied_, results);
      !s) {
    return s;
  }
  if (count == 0 || entries[count - 1].index <= last_applied_) {
    return Status::ok();
  }
  rocksdb::WriteBatch batch;
  for (const auto& [key, change] : applier.changes()) {
    if (change.base && change.base->expire_at_ms != 0) {
      batch.Delete(db_->expiry, expiry_key(change.base->expire_at_ms, key));
    }
    if (!change.value) {
      batch.Delete(db_->kv, key);
      continue;
    }
    batch.Put(db_->kv, key, encode_stored_value(*change.value));
    if (change.value->expire_at_ms != 0) {
      batch.Put(db_->expiry, expiry_key(change.value->expire_at_ms, key), "");
    }
  }
  const uint64_t last_applied = entries[count - 1].index;
  const uint64_t key_count = key_count_ + applier.key_count_delta();
  batch.Put(db_->meta, kLastAppliedKey, fixed64(last_applied));
  batch.Put(db_->meta, kClockKey, fixed64(applier.clock_ms()));
  batch.Put(db_->meta, kKeyCountKey, fixed64(key_count));
  if (before_commit != nullptr) (*before_commit)();
  if (Status s = convert(db_->db->Write(rocksdb::WriteOptions(), &batch),
                         "write KV chunk");
      !s) {
    return s;
  }
  clock_ms_ = applier.clock_ms();
  key_count_ = key_count;
  last_applied_ = last_applied;
  return Status::ok();
}

Status RocksDbKvMachine::read(std::string_view query, std::string* answer,
                              uint64_t* revision) {
  std::shared_lock lock(db_mutex_);
  if (!db_) return Status::error(storage::StatusCode::kClosed, "KV closed");
  SnapshotView view(db_.get());
  return serve_read(&view, query, answer, revision);
}

Status RocksDbKvMachine::generate_snapshot(const std::string& dir,
                                           uint64_t last_index) {
  std::shared_lock lock(db_mutex_);
  if (!db_) return Status::error(storage::StatusCode::kClosed, "KV closed");
  if (last_index != last_applied_) {
    return Status::invalid_argument(
        "snapshot at " + std::to_string(last_index) + " but last applied is " +
        std::to_string(last_applied_));
  }
  rocksdb::Checkpoint* raw = nullptr;
  if (Status s = convert(rocksdb::Checkpoint::Create(db_->db.get(), &raw),
                         "create checkpoint");
      !s) {
    return s;
  }
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return convert(checkpoint->CreateCheckpoint(dir + "/db"),
                 "checkpoint KV database into " + dir);
}

Status RocksDbKvMachine::install_snapshot(const std::string& dir,
                                          uint64_t last_index) {
  storage::FileSystem* fs = storage::posix_file_system();
  const std::string staged = path_ + "/db.installing";
  if (Status s = fs->remove_all(staged); !s) return s;
  if (Status s = copy_dir(fs, dir + "/db", staged); !s) return s;
  {
    std::unique_ptr<Database> d;
    if (Status s = Database::open(staged, &d); !s) return s;
    rocksdb::WriteOptions synced;
    synced.sync = true;
    if (Status s = convert(
            d->db->Put(synced, d->meta, kLastAppliedKey, fixed64(last_index)),
            "write last applied of installed snapshot");
        !s) {
      return s;
    }
  }
  return swap_in_staged_db();
}

Status RocksDbKvMachine::reset() {
  storage::FileSystem* fs = storage::posix_file_system();
  const std::string staged = path_ + "/db.installing";
  if (Status s = fs->remove_all(staged); !s) return s;
  {
    std::unique_ptr<Database> d;
    if (Status s = Database::open(staged, &d); !s) return s;
  }
  return swap_in_staged_db();
}

Status RocksDbKvMachine::swap_in_staged_db() {
  storage::FileSystem* fs = storage::posix_file_system();
  const std::string live = path_ + "/db";
  const std::string staged = path_ + "/db.installing";
  const std::string old = path_ + "/db.old";
  if (Status s = sync_dir_files(fs, staged); !s) return s;
  std::unique_lock lock(db_mutex_);
  db_.reset();
  if (Status s = fs->rename(live, old); !s) return s;
  if (Status s = fs->rename(staged, live); !s) return s;
  if (Status s = fs->sync_dir(path_); !s) return s;
  if (Status s = fs->remove_all(old); !s) return s;
  return open_live_db();
}

Status RocksDbKvMachine::flush() {
  std::shared_lock lock(db_mutex_);
  if (!db_) return Status::error(storage::StatusCode::kClosed, "KV closed");
  return convert(db_->db->FlushWAL(/*sync=*/true), "sync KV WAL");
}

}  // namespace dengine::sm
