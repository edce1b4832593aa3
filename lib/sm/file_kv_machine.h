// The file-based built-in KV machine: the whole state in memory, durable as
// a compacted image file plus an append-only log of applied chunks.
//
// Layout under the machine's directory, for the current generation G:
//   image-<G>        the state as of some last_applied (absent for G = 0:
//                    empty). Format in docs/state-machine-guide.md.
//   chunks-<G>.log   one record per chunk applied since: u32 payload length,
//                    u32 CRC32C of the payload, then the payload (the chunk's
//                    last_applied, clock_ms and its key changes).
// A new image (compaction, install_snapshot, reset) is written as
// image-<G+1>.tmp, synced and renamed, which switches to generation G+1 in
// one atomic step; the files of older generations are then removed. open()
// loads the newest image, replays its log, and cuts a torn tail (a last
// record cut short by a crash, or zeros past the last record where a crash
// left space the file system had extended before the data landed); a damaged
// record before the tail, zeroed or not, is corruption.
//
// Each chunk's record is written before apply_chunk returns (it survives a
// process crash) and synced by flush() (it survives a power loss).
// A snapshot is the image file (kv.image) written into the given directory.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>

#include "sm/kv_backend.h"
#include "sm/kv_store.h"
#include "storage/file_system.h"
#include "storage/status.h"
#include "watch/event.h"

namespace dengine::sm {

class FileKvMachine final : public KvBackend {
 public:
  // Opens (creating if needed) the machine in directory `path`, through
  // `fs` (the POSIX file system unless a test substitutes one).
  static storage::Status open(const std::string& path,
                              std::unique_ptr<FileKvMachine>* out,
                              storage::FileSystem* fs = nullptr);
  ~FileKvMachine() override;

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

  // The machine's whole state: what an image holds.
  struct State {
    uint64_t last_applied = 0;
    uint64_t clock_ms = 0;
    std::map<std::string, StoredValue, std::less<>> values;
  };

 private:
  FileKvMachine(std::string path, storage::FileSystem* fs)
      : path_(std::move(path)), fs_(fs) {}
  storage::Status recover();
  storage::Status replay_log();
  // Writes `state` as the image of the next generation, switches to it with
  // an empty log, and makes it the in-memory state.
  storage::Status switch_to_image(State state);
  void set_state(State state);
  std::string image_path(uint64_t generation) const;
  std::string log_path(uint64_t generation) const;

  const std::string path_;
  storage::FileSystem* const fs_;
  uint64_t generation_ = 0;
  std::unique_ptr<storage::File> log_;
  uint64_t log_size_ = 0;
  uint64_t image_size_ = 0;

  // Readers hold it shared; apply changes the maps under it exclusively.
  mutable std::shared_mutex state_mutex_;
  State state_;
  std::set<std::pair<uint64_t, std::string>> expiries_;  // (expire_at, key)
  std::atomic<uint64_t> last_applied_{0};
  std::atomic<uint64_t> key_count_{0};
};

}  // namespace dengine::sm
