#include "storage/wal_meta.h"

#include <cstring>
#include <memory>
#include <string_view>

#include "base/crc32c.h"

namespace dengine::storage::wal {
namespace {

// magic, version, purge index, purge term, first sequence, CRC32C of the rest
constexpr std::string_view kMagic = "DWALMETA";
constexpr uint32_t kVersion = 1;
constexpr size_t kMetaSize = 8 + 4 + 8 + 8 + 8 + 4;

template <typename T>
void put(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <typename T>
T get(std::string_view bytes, size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(value));
  return value;
}

}  // namespace

Status load_meta(FileSystem* fs, const std::string& dir, WalMeta* meta) {
  const std::string path = dir + "/" + kMetaFileName;
  *meta = {};
  if (!fs->exists(path)) return Status::ok();
  std::unique_ptr<File> file;
  Status s = fs->open(path, false, &file);
  if (!s) return s;
  std::string bytes;
  s = file->read(0, kMetaSize + 1, &bytes);
  if (!s) return s;
  if (bytes.size() != kMetaSize || !bytes.starts_with(kMagic)) {
    return Status::corruption(path + ": not a WAL meta file");
  }
  const std::string_view body(bytes.data(), kMetaSize - 4);
  if (base::crc32c(body) != get<uint32_t>(bytes, kMetaSize - 4)) {
    return Status::corruption(path + ": bad checksum");
  }
  if (get<uint32_t>(bytes, 8) != kVersion) {
    return Status::corruption(path + ": unknown version " +
                              std::to_string(get<uint32_t>(bytes, 8)));
  }
  meta->purge_index = get<uint64_t>(bytes, 12);
  meta->purge_term = get<uint64_t>(bytes, 20);
  meta->first_sequence = get<uint64_t>(bytes, 28);
  return Status::ok();
}

Status save_meta(FileSystem* fs, const std::string& dir, const WalMeta& meta) {
  std::string bytes(kMagic);
  put(&bytes, kVersion);
  put(&bytes, meta.purge_index);
  put(&bytes, meta.purge_term);
  put(&bytes, meta.first_sequence);
  put(&bytes, base::crc32c(bytes));

  const std::string temp = dir + "/" + kMetaTempFileName;
  std::unique_ptr<File> file;
  Status s = fs->open(temp, true, &file);
  if (s) s = file->truncate(0);
  if (s) s = file->write(0, bytes);
  if (s) s = file->sync();
  if (!s) return s;
  file.reset();
  s = fs->rename(temp, dir + "/" + kMetaFileName);
  if (!s) return s;
  return fs->sync_dir(dir);
}

}  // namespace dengine::storage::wal
