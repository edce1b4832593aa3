// The default built-in KV machine, on RocksDB.
//
// Layout under the machine's directory:
//   db/             the live database
//   db.installing/  a database being prepared by install_snapshot or reset
//   db.old/         the previous database during the swap
// Column families: "kv" (key -> encode_stored_value), "expiry" (8-byte
// big-endian expire_at_ms + key -> empty, the TTL index) and "meta"
// (last_applied, clock_ms, key_count as 8-byte little-endian integers).
//
// Each chunk is one WriteBatch holding its effects and the meta values, so a
// crash keeps either all of a chunk or none of it. Writes are not synced:
// they survive a process crash at once (the WAL is written before Write
// returns) and a power loss once flush() synced the WAL.
//
// Replacing the database (install_snapshot, reset) prepares db.installing
// completely and syncs it, then renames db -> db.old, db.installing -> db,
// and syncs the directory. open() finishes or undoes an interrupted swap:
// db.old without db means db.installing was complete, so it becomes db.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <string>

#include "sm/kv_backend.h"
#include "storage/status.h"
#include "watch/event.h"

namespace dengine::sm {

class RocksDbKvMachine final : public KvBackend {
 public:
  // Opens (creating if needed) the machine in directory `path`.
  static storage::Status open(const std::string& path,
                              std::unique_ptr<RocksDbKvMachine>* out);
  ~RocksDbKvMachine() override;

  storage::Status apply_chunk(
      const dengine_entry* entries, size_t count,
      std::vector<std::optional<KvResult>>* results,
      std::vector<watch::Event>* events = nullptr,
      const std::function<void()>* before_commit = nullptr) override;
  storage::Status read(std::string_view query, std::string* answer,
                       uint64_t* revision = nullptr) override;
  uint64_t last_applied() const override { return last_applied_.load(); }
  uint64_t len() const override { return key_count_.load(); }
  storage::Status generate_snapshot(const std::string& dir,
                                    uint64_t last_index) override;
  storage::Status install_snapshot(const std::string& dir,
                                   uint64_t last_index) override;
  storage::Status flush() override;
  storage::Status reset() override;

  // The open database and its column families (internal).
  struct Database;

 private:
  explicit RocksDbKvMachine(std::string path);
  storage::Status open_live_db();
  // Swaps the prepared db.installing in for db and reopens it.
  storage::Status swap_in_staged_db();

  const std::string path_;
  // Shared by apply and reads; exclusive while the database is replaced.
  mutable std::shared_mutex db_mutex_;
  std::unique_ptr<Database> db_;
  std::atomic<uint64_t> last_applied_{0};
  std::atomic<uint64_t> clock_ms_{0};
  std::atomic<uint64_t> key_count_{0};
};

}  // namespace dengine::sm
