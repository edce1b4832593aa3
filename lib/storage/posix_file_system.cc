// The real file system: thin wrappers over POSIX calls that retry on EINTR,
// loop over short reads and writes, and turn every failure into a Status
// naming the operation, the path and the errno text.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "storage/file_system.h"

namespace dengine::storage {
namespace {

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Status read(uint64_t offset, size_t n, std::string* out) const override {
    out->resize(n);
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, out->data() + done, n - done,
                                  static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        out->clear();
        return Status::io_errno("pread", path_, errno);
      }
      if (got == 0) break;  // end of file
      done += static_cast<size_t>(got);
    }
    out->resize(done);
    return Status::ok();
  }

  Status write(uint64_t offset, std::string_view data) override {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t put = ::pwrite(fd_, data.data() + done, data.size() - done,
                                   static_cast<off_t>(offset + done));
      if (put < 0) {
        if (errno == EINTR) continue;
        return Status::io_errno("pwrite", path_, errno);
      }
      done += static_cast<size_t>(put);
    }
    return Status::ok();
  }

  Status sync() override {
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) return Status::io_errno("fdatasync", path_, errno);
    }
    return Status::ok();
  }

  Status allocate(uint64_t size) override {
    const uint64_t current = this->size();
    if (current >= size) return Status::ok();
    int rc;
    do {
      rc = ::fallocate(fd_, 0, 0, static_cast<off_t>(size));
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) return Status::ok();
    if (errno != EOPNOTSUPP && errno != ENOSYS) {
      return Status::io_errno("fallocate", path_, errno);
    }
    // posix_fallocate returns the error instead of setting errno; glibc
    // emulates it by writing, which some file systems refuse too.
    rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(size));
    if (rc == 0) return Status::ok();
    if (rc != EOPNOTSUPP && rc != EINVAL) {
      return Status::io_errno("posix_fallocate", path_, rc);
    }
    return write_zeros(current, size);
  }

  Status truncate(uint64_t size) override {
    while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return Status::io_errno("ftruncate", path_, errno);
    }
    return Status::ok();
  }

  uint64_t size() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  Status write_zeros(uint64_t from, uint64_t to) {
    const std::string zeros(1 << 20, '\0');
    for (uint64_t at = from; at < to;) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(zeros.size(), to - at));
      Status s = write(at, std::string_view(zeros.data(), n));
      if (!s) return s;
      at += n;
    }
    return Status::ok();
  }

  int fd_;
  std::string path_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Status open(const std::string& path, bool create,
              std::unique_ptr<File>* out) override {
    const int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
    int fd;
    do {
      fd = ::open(path.c_str(), flags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      if (errno == ENOENT) return Status::not_found("no file " + path);
      return Status::io_errno("open", path, errno);
    }
    *out = std::make_unique<PosixFile>(fd, path);
    return Status::ok();
  }

  Status create_dirs(const std::string& path) override {
    if (path.empty() || path == "/" || path == ".") return Status::ok();
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::ok();
      return Status::io_errno("mkdir", path, ENOTDIR);
    }
    Status s = create_dirs(parent_dir(path));
    if (!s) return s;
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::io_errno("mkdir", path, errno);
    }
    return Status::ok();
  }

  Status list(const std::string& dir,
              std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return Status::not_found("no directory " + dir);
      return Status::io_errno("opendir", dir, errno);
    }
    errno = 0;
    while (const dirent* entry = ::readdir(d)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names->push_back(name);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return Status::io_errno("readdir", dir, err);
    std::sort(names->begin(), names->end());
    return Status::ok();
  }

  Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) return Status::not_found("no file " + path);
      return Status::io_errno("unlink", path, errno);
    }
    return Status::ok();
  }

  Status remove_all(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::ok();
      return Status::io_errno("lstat", path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      std::vector<std::string> names;
      Status s = list(path, &names);
      if (!s) return s;
      for (const std::string& name : names) {
        s = remove_all(path + "/" + name);
        if (!s) return s;
      }
      if (::rmdir(path.c_str()) != 0 && errno != ENOENT) {
        return Status::io_errno("rmdir", path, errno);
      }
      return Status::ok();
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::io_errno("unlink", path, errno);
    }
    return Status::ok();
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::io_errno("rename", from + " to " + to, errno);
    }
    return Status::ok();
  }

  Status sync_dir(const std::string& dir) override {
    int fd;
    do {
      fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return Status::io_errno("open directory", dir, errno);
    int rc;
    do {
      rc = ::fsync(fd);
    } while (rc != 0 && errno == EINTR);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return Status::io_errno("fsync directory", dir, err);
    return Status::ok();
  }

  bool exists(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }
};

}  // namespace

FileSystem* posix_file_system() {
  static PosixFileSystem* const fs = new PosixFileSystem();
  return fs;
}

}  // namespace dengine::storage
