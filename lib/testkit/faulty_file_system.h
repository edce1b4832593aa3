// An in-memory FileSystem that remembers what a real disk would keep across
// a power loss, and simulates one on demand: crash(seed, mode).
//
// What it models:
//   - File contents. Each file has its current content and its durable
//     content. File::sync() makes the current content (bytes and size)
//     durable; write(), truncate() and allocate() change only the current
//     content, and are remembered in order until the next sync.
//   - Names. A directory entry created by open(create), removed by remove()
//     or moved by rename() is durable only after sync_dir() of the directory
//     that holds it (both directories, for a rename across two). A crash
//     puts every directory back to its entries as of its last sync_dir(); a
//     file left with no durable name is gone.
//   - Directories themselves (create_dirs, remove_all of a directory) are
//     durable at once: the stores never depend on their loss.
// What a crash does to file contents depends on the mode:
//   kDropUnsynced  every file reverts to its durable content;
//   kTornWrite     as kDropUnsynced, except for the file written last: a
//                  random prefix of its unsynced operations survives, the
//                  last of them, if a write, only up to a random byte (the
//                  bytes after it keep their durable content);
//   kBitFlip       as kDropUnsynced, then one random bit flips in the
//                  durable bytes that write() ever wrote (not in space only
//                  allocated or extended by truncate).
// Everything is deterministic from the seed (and the operations before). After
// a crash, every File opened before it fails with kIo: the process that held
// them is gone.
//
// A crash can also be armed to strike in the middle of the code under test:
// crash_at_change(n, ...) makes the n-th change to the disk from then on
// (a write, truncate, allocate or sync of a file; a file's creation, a
// remove, rename, sync_dir or create_dirs) the point of the power loss. That
// change does not happen, and the disk stays down, failing every operation
// with kIo, until restart(): nothing runs after a power loss. Looping n from
// 1 until the armed crash no longer strikes covers every point.
//
// Thread-safe: one lock around everything.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/file_system.h"

namespace dengine::testkit {

enum class CrashMode : uint8_t { kDropUnsynced, kTornWrite, kBitFlip };

const char* to_string(CrashMode mode);

// The bit a kBitFlip crash flipped.
struct BitFlip {
  std::string path;
  uint64_t offset = 0;
  int bit = 0;
};

class FaultyFileSystem final : public storage::FileSystem {
 public:
  FaultyFileSystem();
  ~FaultyFileSystem() override;

  storage::Status open(const std::string& path, bool create,
                       std::unique_ptr<storage::File>* out) override;
  storage::Status create_dirs(const std::string& path) override;
  storage::Status list(const std::string& dir,
                       std::vector<std::string>* names) override;
  storage::Status remove(const std::string& path) override;
  storage::Status remove_all(const std::string& path) override;
  storage::Status rename(const std::string& from,
                         const std::string& to) override;
  storage::Status sync_dir(const std::string& dir) override;
  bool exists(const std::string& path) override;

  // Simulates a power loss and the reboot after it (see above): disarms an
  // armed crash and leaves the disk up. Returns the flipped bit in kBitFlip
  // mode, if any byte had ever been written.
  std::optional<BitFlip> crash(uint64_t seed, CrashMode mode);

  // Arms a power loss instead of the `change`-th change from now (1 = the
  // next one), with crash(seed, mode)'s effect. Replaces an armed one.
  void crash_at_change(uint64_t change, uint64_t seed, CrashMode mode);
  // Whether the armed crash struck (the disk is down since).
  bool crash_struck();
  // Powers the disk on again after the armed crash struck.
  void restart();

  // Direct access to a file's bytes, current and durable alike, for tests
  // that damage a file on purpose.
  storage::Status read_all(const std::string& path, std::string* out);
  storage::Status overwrite(const std::string& path, uint64_t offset,
                            const std::string& bytes);

  struct Inode;
  struct Dir;

 private:
  class FaultyFile;

  struct ArmedCrash {
    uint64_t changes_left = 0;
    uint64_t seed = 0;
    CrashMode mode = CrashMode::kDropUnsynced;
  };

  std::shared_ptr<Inode> find(const std::string& path);
  std::optional<BitFlip> crash_locked(uint64_t seed, CrashMode mode);
  // Called with mutex_ held before every change to the disk: kIo when the
  // disk is down, or when the armed crash strikes instead of this change.
  storage::Status before_change();

  std::mutex mutex_;
  std::map<std::string, Dir> dirs_;
  // Bumped by crash(): files opened before it stop working.
  uint64_t generation_ = 0;
  // Numbers file operations, so a crash can tell which file changed last.
  uint64_t operation_count_ = 0;
  std::optional<ArmedCrash> armed_;
  bool down_ = false;
};

}  // namespace dengine::testkit
