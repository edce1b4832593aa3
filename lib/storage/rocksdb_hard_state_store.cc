// The hard state as one value in the "meta" column family of the RocksDB log
// database, written with a synced write.
#include <rocksdb/write_batch.h>

#include <string>
#include <utility>

#include "base/byte_codec.h"
#include "storage/rocksdb_db.h"

namespace dengine::storage {

namespace {

constexpr uint8_t kHardStateFormat = 1;
constexpr char kHardStateKey[] = "hard_state";
constexpr size_t kHardStateBytes = 1 + 3 * 8;

class RocksDbHardStateStore final : public HardStateStore {
 public:
  explicit RocksDbHardStateStore(std::shared_ptr<RocksDb> db)
      : db_(std::move(db)) {}

  Status load(raft::HardState* out) override {
    std::string value;
    rocksdb::Status s = db_->db()->Get(
        rocksdb::ReadOptions(), db_->meta_family(), kHardStateKey, &value);
    if (s.IsNotFound()) {
      *out = raft::HardState{};
      return Status::ok();
    }
    if (!s.ok()) return db_->convert(s, "read of the hard state");
    if (value.size() != kHardStateBytes ||
        static_cast<uint8_t>(value[0]) != kHardStateFormat) {
      return Status::corruption("malformed hard state in " + db_->path());
    }
    out->term = base::decode_fixed(value.data() + 1, 8);
    out->vote = base::decode_fixed(value.data() + 9, 8);
    out->commit = base::decode_fixed(value.data() + 17, 8);
    return Status::ok();
  }

  Status save(const raft::HardState& state) override {
    std::string value(1, static_cast<char>(kHardStateFormat));
    base::append_fixed(&value, state.term, 8);
    base::append_fixed(&value, state.vote, 8);
    base::append_fixed(&value, state.commit, 8);
    rocksdb::WriteBatch batch;
    rocksdb::Status s = batch.Put(db_->meta_family(), kHardStateKey, value);
    if (!s.ok()) return db_->convert(s, "hard state batch");
    return db_->write_synced(&batch);
  }

 private:
  std::shared_ptr<RocksDb> db_;
};

}  // namespace

std::unique_ptr<HardStateStore> make_rocksdb_hard_state_store(
    std::shared_ptr<RocksDb> db) {
  return std::make_unique<RocksDbHardStateStore>(std::move(db));
}

}  // namespace dengine::storage
