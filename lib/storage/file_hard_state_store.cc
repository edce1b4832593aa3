// The hard state in one small file:
//   [format version 1 byte][term 8][vote 8][commit 8][CRC32C of the above 4]
// (integers little-endian), replaced atomically on every save.
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "base/byte_codec.h"
#include "base/crc32c.h"
#include "base/log.h"
#include "storage/atomic_file.h"
#include "storage/hard_state_store.h"

namespace dengine::storage {

namespace {

constexpr uint8_t kFormat = 1;
constexpr size_t kBodyBytes = 1 + 3 * 8;
constexpr size_t kFileBytes = kBodyBytes + 4;
constexpr char kFileName[] = "HARDSTATE";

std::string encode(const raft::HardState& state) {
  std::string out(1, static_cast<char>(kFormat));
  base::append_fixed(&out, state.term, 8);
  base::append_fixed(&out, state.vote, 8);
  base::append_fixed(&out, state.commit, 8);
  base::append_fixed(&out, base::crc32c(out), 4);
  return out;
}

class FileHardStateStore final : public HardStateStore {
 public:
  FileHardStateStore(FileSystem* fs, std::string dir)
      : fs_(fs), dir_(std::move(dir)), path_(dir_ + "/" + kFileName) {}

  Status load(raft::HardState* out) override {
    std::lock_guard lock(mutex_);
    const bool exists = fs_->exists(path_);
    if (fs_->exists(path_ + kReplaceTempSuffix)) {
      base::log_line(DENGINE_LOG_INFO,
                     "hard state: ignoring " + path_ + kReplaceTempSuffix +
                         ", a save the crash interrupted; falling back to " +
                         (exists ? "the last complete save in " + path_
                                 : std::string("the empty hard state")));
    }
    if (!exists) {
      *out = raft::HardState{};
      return Status::ok();
    }
    std::string data;
    Status s = read_file(fs_, path_, kFileBytes, &data);
    if (!s) return s;
    if (data.size() != kFileBytes) {
      return Status::corruption(
          "hard state file " + path_ + " has " + std::to_string(data.size()) +
          " bytes, expected " + std::to_string(kFileBytes));
    }
    const std::string_view body(data.data(), kBodyBytes);
    if (base::decode_fixed(data.data() + kBodyBytes, 4) != base::crc32c(body)) {
      return Status::corruption("bad checksum in hard state file " + path_);
    }
    if (static_cast<uint8_t>(data[0]) != kFormat) {
      return Status::corruption("unknown format version " +
                                std::to_string(static_cast<uint8_t>(data[0])) +
                                " in hard state file " + path_);
    }
    out->term = base::decode_fixed(data.data() + 1, 8);
    out->vote = base::decode_fixed(data.data() + 9, 8);
    out->commit = base::decode_fixed(data.data() + 17, 8);
    return Status::ok();
  }

  Status save(const raft::HardState& state) override {
    std::lock_guard lock(mutex_);
    return replace_file(fs_, dir_, kFileName, encode(state));
  }

 private:
  FileSystem* fs_;
  std::string dir_;
  std::string path_;
  std::mutex mutex_;
};

}  // namespace

Status open_file_hard_state_store(FileSystem* fs, const std::string& dir,
                                  std::unique_ptr<HardStateStore>* out) {
  if (fs == nullptr || dir.empty()) {
    return Status::invalid_argument(
        "file hard-state store needs a file system and a directory");
  }
  Status s = fs->create_dirs(dir);
  if (!s) return s;
  // The directory entry itself must be durable before the first save counts.
  std::filesystem::path path(dir);
  if (!path.has_filename()) path = path.parent_path();  // "a/b/" names "a/b"
  const std::string parent = path.parent_path().string();
  s = fs->sync_dir(parent.empty() ? "." : parent);
  if (!s) return s;
  *out = std::make_unique<FileHardStateStore>(fs, dir);
  return Status::ok();
}

}  // namespace dengine::storage
