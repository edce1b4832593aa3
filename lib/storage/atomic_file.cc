#include "storage/atomic_file.h"

#include <memory>

namespace dengine::storage {

Status replace_file(FileSystem* fs, const std::string& dir,
                    const std::string& name, std::string_view contents) {
  const std::string path = dir + "/" + name;
  const std::string temp_path = path + kReplaceTempSuffix;
  {
    std::unique_ptr<File> file;
    Status s = fs->open(temp_path, /*create=*/true, &file);
    if (!s) return s;
    // A leftover from an interrupted replace may be longer than the new file.
    s = file->truncate(0);
    if (s) s = file->write(0, contents);
    if (s) s = file->sync();
    if (!s) return s;
  }
  Status s = fs->rename(temp_path, path);
  if (!s) return s;
  return fs->sync_dir(dir);
}

Status read_file(FileSystem* fs, const std::string& path, size_t max_bytes,
                 std::string* out) {
  std::unique_ptr<File> file;
  Status s = fs->open(path, /*create=*/false, &file);
  if (!s) return s;
  s = file->read(0, max_bytes + 1, out);
  if (!s) return s;
  if (out->size() > max_bytes) {
    return Status::corruption(path + " is larger than " +
                              std::to_string(max_bytes) + " bytes");
  }
  return Status::ok();
}

}  // namespace dengine::storage
