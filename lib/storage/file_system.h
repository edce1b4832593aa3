// The file operations the stores use, behind an interface so that tests can
// substitute a fault-injecting file system (lib/testkit/faulty_file_system.h)
// that loses unsynced data, tears writes and flips bits on a simulated crash.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/status.h"

namespace dengine::storage {

// A file open for reading and positional writing. Not thread-safe.
class File {
 public:
  virtual ~File() = default;
  // Reads up to n bytes at offset into *out (fewer only at the end of file).
  virtual Status read(uint64_t offset, size_t n, std::string* out) const = 0;
  // Writes data at offset, extending the file if needed. Not durable until
  // sync().
  virtual Status write(uint64_t offset, std::string_view data) = 0;
  // Makes written data durable (fdatasync).
  virtual Status sync() = 0;
  // Ensures the file is at least `size` bytes, zero-filled, with the blocks
  // allocated, so later writes inside it need no metadata update to be synced.
  virtual Status allocate(uint64_t size) = 0;
  virtual Status truncate(uint64_t size) = 0;
  virtual uint64_t size() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens (creating if `create`) a file for reading and writing.
  virtual Status open(const std::string& path, bool create,
                      std::unique_ptr<File>* out) = 0;
  // Creates a directory and its parents; ok if it exists.
  virtual Status create_dirs(const std::string& path) = 0;
  // Names (not paths) of the entries in a directory, sorted.
  virtual Status list(const std::string& dir,
                      std::vector<std::string>* names) = 0;
  virtual Status remove(const std::string& path) = 0;
  // Removes a directory and everything under it; ok if it does not exist.
  virtual Status remove_all(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2)).
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Makes creations, removals and renames in `dir` durable (fsync of the
  // directory).
  virtual Status sync_dir(const std::string& dir) = 0;
  virtual bool exists(const std::string& path) = 0;
};

// The real file system (POSIX). Shared, thread-safe, never null.
FileSystem* posix_file_system();

}  // namespace dengine::storage
