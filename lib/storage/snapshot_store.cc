#include "storage/snapshot_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

#include "base/byte_codec.h"
#include "base/crc32c.h"
#include "base/log.h"

namespace dengine::storage {

namespace fs = std::filesystem;

namespace {

// META: [format version 1][index 8][term 8][voter count 4][voters 8 each]
// [learner count 4][learners 8 each][data bytes 8][sha256 hex 64]
// [CRC32C of everything before 4], integers little-endian.
constexpr uint8_t kMetaFormat = 1;
constexpr char kMetaName[] = "META";
constexpr char kDataName[] = "data";
constexpr char kSnapPrefix[] = "snap-";
constexpr char kTempPrefix[] = "tmp-";
constexpr char kStagedPrefix[] = "staged-";
constexpr size_t kShaHexBytes = 64;

std::atomic<uint64_t> temp_counter{0};

std::string digits20(uint64_t value) {
  char buf[21];
  std::snprintf(buf, sizeof(buf), "%020llu",
                static_cast<unsigned long long>(value));
  return buf;
}

std::string snapshot_name(const raft::SnapshotMeta& meta) {
  return kSnapPrefix + digits20(meta.index) + "-" + digits20(meta.term);
}

// A name no other writer or staged snapshot of this process uses.
std::string unique_name(std::string_view prefix,
                        const raft::SnapshotMeta& meta) {
  return std::string(prefix) + digits20(meta.index) + "-" +
         digits20(meta.term) + "-" + std::to_string(temp_counter.fetch_add(1));
}

std::string describe(const raft::SnapshotMeta& meta) {
  return "snapshot at index " + std::to_string(meta.index) + ", term " +
         std::to_string(meta.term);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// snap-<20 digits>-<20 digits>
bool is_snapshot_name(std::string_view name) {
  if (name.size() != 46 || !starts_with(name, kSnapPrefix) || name[25] != '-') {
    return false;
  }
  for (size_t i = 5; i < name.size(); ++i) {
    if (i != 25 && (name[i] < '0' || name[i] > '9')) return false;
  }
  return true;
}

Status fs_error(const std::string& what, const std::string& path,
                const std::error_code& ec) {
  return Status::io(what + " " + path + ": " + ec.message());
}

void put_ids(std::string* out, const std::vector<raft::NodeId>& ids) {
  base::append_fixed(out, ids.size(), 4);
  for (raft::NodeId id : ids) base::append_fixed(out, id, 8);
}

bool read_ids(base::ByteReader* in, std::vector<raft::NodeId>* ids) {
  uint64_t count = 0;
  if (!in->fixed(4, &count) || count > in->remaining() / 8) return false;
  ids->resize(count);
  for (raft::NodeId& id : *ids) {
    if (!in->fixed(8, &id)) return false;
  }
  return true;
}

std::string encode_meta(const SnapshotInfo& info) {
  std::string out(1, static_cast<char>(kMetaFormat));
  base::append_fixed(&out, info.meta.index, 8);
  base::append_fixed(&out, info.meta.term, 8);
  put_ids(&out, info.meta.conf.voters);
  put_ids(&out, info.meta.conf.learners);
  base::append_fixed(&out, info.bytes, 8);
  out.append(info.sha256);
  base::append_fixed(&out, base::crc32c(out), 4);
  return out;
}

// Empty on success, else what is wrong with the file.
std::string decode_meta(std::string_view data, SnapshotInfo* info) {
  if (data.size() < 4) return "META is truncated";
  const std::string_view body = data.substr(0, data.size() - 4);
  base::ByteReader crc_reader(data.substr(body.size()));
  uint64_t crc = 0;
  if (!crc_reader.fixed(4, &crc) || crc != base::crc32c(body)) {
    return "bad checksum in META";
  }
  base::ByteReader in(body);
  uint64_t format = 0;
  if (!in.fixed(1, &format) || format != kMetaFormat) {
    return "unknown META format version " + std::to_string(format);
  }
  if (!in.fixed(8, &info->meta.index) || !in.fixed(8, &info->meta.term) ||
      !read_ids(&in, &info->meta.conf.voters) ||
      !read_ids(&in, &info->meta.conf.learners) || !in.fixed(8, &info->bytes) ||
      !in.raw(kShaHexBytes, &info->sha256) || in.remaining() != 0) {
    return "malformed META";
  }
  return "";
}

Status read_file(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_errno("open", path, errno);
  out->clear();
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::io_errno("read", path, err);
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::ok();
}

Status write_file_synced(const std::string& path, std::string_view data) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::io_errno("create", path, errno);
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::io_errno("write", path, err);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::io_errno("fsync", path, err);
  }
  if (::close(fd) != 0) return Status::io_errno("close", path, errno);
  return Status::ok();
}

// fsync of a file or a directory (which makes its entries durable).
Status sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(),
                        O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) return Status::io_errno("open", path, errno);
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::io_errno("fsync", path, err);
  }
  ::close(fd);
  return Status::ok();
}

struct DirContents {
  // '/'-separated names relative to the directory, sorted.
  std::vector<std::string> files;
  std::vector<std::string> dirs;
};

Status list_tree(const std::string& dir, DirContents* out) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec);
  if (ec) return fs_error("list", dir, ec);
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return fs_error("list", dir, ec);
    const fs::file_status status = it->symlink_status(ec);
    if (ec) return fs_error("stat", it->path().string(), ec);
    const std::string name =
        it->path().lexically_relative(dir).generic_string();
    if (fs::is_regular_file(status)) {
      out->files.push_back(name);
    } else if (fs::is_directory(status)) {
      out->dirs.push_back(name);
    } else {
      return Status::invalid_argument("snapshot data " + it->path().string() +
                                      " is neither a regular file nor a "
                                      "directory");
    }
  }
  if (ec) return fs_error("list", dir, ec);
  std::sort(out->files.begin(), out->files.end());
  std::sort(out->dirs.begin(), out->dirs.end());
  return Status::ok();
}

std::string to_hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0xf]);
  }
  return hex;
}

// SHA-256 over the files (see sha256_of_dir), streaming each file.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    ok_ = ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr);
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data) {
    ok_ = ok_ && EVP_DigestUpdate(ctx_, data.data(), data.size());
  }
  Status finish(std::string* hex) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    ok_ = ok_ && EVP_DigestFinal_ex(ctx_, digest, &length);
    if (!ok_) return Status::io("OpenSSL SHA-256 failed");
    *hex = to_hex(digest, length);
    return Status::ok();
  }

 private:
  EVP_MD_CTX* ctx_;
  bool ok_;
};

Status hash_tree(const std::string& dir, std::string* hex, uint64_t* bytes) {
  DirContents contents;
  Status s = list_tree(dir, &contents);
  if (!s) return s;
  Sha256 sha;
  *bytes = 0;
  std::string buf(1 << 20, '\0');
  for (const std::string& name : contents.files) {
    const std::string path = dir + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::io_errno("open", path, errno);
    // The size is hashed before the bytes: take it from the metadata, then
    // check it against what is actually read.
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    if (ec) {
      ::close(fd);
      return fs_error("stat", path, ec);
    }
    std::string header = name;
    header.push_back('\0');
    base::append_fixed(&header, size, 8);
    sha.update(header);
    uint64_t read_total = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        ::close(fd);
        return Status::io_errno("read", path, err);
      }
      if (n == 0) break;
      sha.update(std::string_view(buf.data(), static_cast<size_t>(n)));
      read_total += static_cast<uint64_t>(n);
    }
    ::close(fd);
    if (read_total != size) {
      return Status::io("snapshot file " + path + " changed size while " +
                        "being checksummed");
    }
    *bytes += size;
  }
  return sha.finish(hex);
}

// Makes a finished tree durable: every file, then every directory bottom-up
// (children before parents), then the root.
Status sync_tree(const std::string& dir) {
  DirContents contents;
  Status s = list_tree(dir, &contents);
  if (!s) return s;
  for (const std::string& name : contents.files) {
    s = sync_path(dir + "/" + name, /*directory=*/false);
    if (!s) return s;
  }
  for (auto it = contents.dirs.rbegin(); it != contents.dirs.rend(); ++it) {
    s = sync_path(dir + "/" + *it, /*directory=*/true);
    if (!s) return s;
  }
  return sync_path(dir, /*directory=*/true);
}

Status remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return fs_error("remove", path, ec);
  return Status::ok();
}

// Names of the entries in `dir` starting with `prefix`, sorted.
Status names_with_prefix(const std::string& dir, std::string_view prefix,
                         std::vector<std::string>* out) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return fs_error("list", dir, ec);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return fs_error("list", dir, ec);
    std::string name = it->path().filename().string();
    if (starts_with(name, prefix)) out->push_back(std::move(name));
  }
  if (ec) return fs_error("list", dir, ec);
  std::sort(out->begin(), out->end());
  return Status::ok();
}

// Reads a complete snapshot's metadata; kCorruption names the snapshot.
Status load_info(const std::string& store_dir, const std::string& name,
                 SnapshotInfo* out) {
  const std::string snap_dir = store_dir + "/" + name;
  std::string data;
  Status s = read_file(snap_dir + "/" + kMetaName, &data);
  if (!s) {
    return Status::corruption("snapshot " + snap_dir +
                              " is damaged: " + s.message());
  }
  SnapshotInfo info;
  const std::string problem = decode_meta(data, &info);
  if (!problem.empty()) {
    return Status::corruption("snapshot " + snap_dir +
                              " is damaged: " + problem);
  }
  if (snapshot_name(info.meta) != name) {
    return Status::corruption("snapshot " + snap_dir + " is damaged: META " +
                              "describes " + describe(info.meta));
  }
  info.data_dir = snap_dir + "/" + kDataName;
  *out = std::move(info);
  return Status::ok();
}

}  // namespace

Status sha256_of_dir(const std::string& dir, std::string* hex_out) {
  uint64_t bytes = 0;
  return hash_tree(dir, hex_out, &bytes);
}

SnapshotWriter::SnapshotWriter(SnapshotStore* store, raft::SnapshotMeta meta,
                               std::string tmp_dir)
    : store_(store),
      meta_(std::move(meta)),
      tmp_dir_(std::move(tmp_dir)),
      data_dir_(tmp_dir_ + "/" + kDataName) {}

SnapshotWriter::~SnapshotWriter() { abort(); }

Status SnapshotWriter::commit(const std::string& expected_sha256,
                              SnapshotInfo* out) {
  if (done_) {
    return Status::invalid_argument("the writer of " + describe(meta_) +
                                    " was already committed or aborted");
  }
  Status s = store_->commit(this, expected_sha256, out);
  if (!s) abort();
  done_ = true;
  return s;
}

Status SnapshotWriter::stage(const std::string& expected_sha256,
                             std::unique_ptr<StagedSnapshot>* out) {
  if (done_) {
    return Status::invalid_argument("the writer of " + describe(meta_) +
                                    " was already committed or aborted");
  }
  Status s = store_->stage(this, expected_sha256, out);
  if (!s) abort();
  done_ = true;
  return s;
}

void SnapshotWriter::abort() {
  if (done_) return;
  done_ = true;
  // Best effort: a leftover temporary directory is removed by the next open.
  std::error_code ec;
  fs::remove_all(tmp_dir_, ec);
}

StagedSnapshot::StagedSnapshot(SnapshotStore* store, std::string dir,
                               SnapshotInfo info)
    : store_(store), dir_(std::move(dir)), info_(std::move(info)) {}

StagedSnapshot::~StagedSnapshot() {
  if (done_) return;
  // Best effort: a leftover staged directory is removed by the next open.
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Status StagedSnapshot::commit(SnapshotInfo* out) {
  if (done_) {
    return Status::invalid_argument("staged " + describe(info_.meta) +
                                    " was already committed");
  }
  Status s = store_->commit(this, out);
  if (s) done_ = true;
  return s;
}

SnapshotStore::SnapshotStore(std::string dir, int keep)
    : dir_(std::move(dir)), keep_(keep) {}

Status SnapshotStore::open(const std::string& dir, int keep,
                           std::unique_ptr<SnapshotStore>* out) {
  if (dir.empty() || keep < 1) {
    return Status::invalid_argument(
        "snapshot store needs a directory and keep >= 1");
  }
  std::error_code ec;
  const std::string absolute =
      fs::absolute(dir, ec).lexically_normal().string();
  if (ec) return fs_error("resolve", dir, ec);
  std::string root = absolute;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  fs::create_directories(root, ec);
  if (ec) return fs_error("create", root, ec);

  // A staged snapshot goes too: the core that received it never installed
  // it (it would have been committed), and the next run's core has not
  // received it.
  std::vector<std::string> leftovers;
  Status s = names_with_prefix(root, kTempPrefix, &leftovers);
  if (s) s = names_with_prefix(root, kStagedPrefix, &leftovers);
  if (!s) return s;
  for (const std::string& name : leftovers) {
    base::log_line(DENGINE_LOG_INFO,
                   "snapshot store: removing " + root + "/" + name + ", " +
                       (name.starts_with(kTempPrefix)
                            ? "a snapshot still being written"
                            : "a received snapshot never installed") +
                       " when the process stopped");
    s = remove_tree(root + "/" + name);
    if (!s) return s;
  }
  if (!leftovers.empty()) {
    s = sync_path(root, /*directory=*/true);
    if (!s) return s;
  }
  out->reset(new SnapshotStore(root, keep));
  return Status::ok();
}

Status SnapshotStore::begin(const raft::SnapshotMeta& meta,
                            std::unique_ptr<SnapshotWriter>* out) {
  if (meta.index == 0) {
    return Status::invalid_argument("a snapshot must cover index 1 or later");
  }
  std::lock_guard lock(mutex_);
  const std::string tmp_dir = dir_ + "/" + unique_name(kTempPrefix, meta);
  std::error_code ec;
  fs::create_directories(tmp_dir + "/" + kDataName, ec);
  if (ec) return fs_error("create", tmp_dir, ec);
  out->reset(new SnapshotWriter(this, meta, tmp_dir));
  return Status::ok();
}

Status SnapshotStore::commit(SnapshotWriter* writer,
                             const std::string& expected_sha256,
                             SnapshotInfo* out) {
  std::lock_guard lock(mutex_);
  SnapshotInfo info;
  Status s = seal(writer, expected_sha256, &info);
  if (!s) return s;
  return publish(writer->tmp_dir_, std::move(info), out);
}

Status SnapshotStore::stage(SnapshotWriter* writer,
                            const std::string& expected_sha256,
                            std::unique_ptr<StagedSnapshot>* out) {
  std::lock_guard lock(mutex_);
  SnapshotInfo info;
  Status s = seal(writer, expected_sha256, &info);
  if (!s) return s;
  // No directory sync: under either name it is a leftover after a crash.
  const std::string staged_dir =
      dir_ + "/" + unique_name(kStagedPrefix, info.meta);
  if (::rename(writer->tmp_dir_.c_str(), staged_dir.c_str()) != 0) {
    return Status::io_errno("rename", writer->tmp_dir_, errno);
  }
  info.data_dir = staged_dir + "/" + kDataName;
  out->reset(new StagedSnapshot(this, staged_dir, std::move(info)));
  return Status::ok();
}

Status SnapshotStore::commit(StagedSnapshot* staged, SnapshotInfo* out) {
  std::lock_guard lock(mutex_);
  return publish(staged->dir_, staged->info_, out);
}

// Checksums a written snapshot and makes its files and META durable in
// place: the snapshot is then complete, and only a rename away from visible.
Status SnapshotStore::seal(SnapshotWriter* writer,
                           const std::string& expected_sha256,
                           SnapshotInfo* info) {
  info->meta = writer->meta_;
  Status s = hash_tree(writer->data_dir_, &info->sha256, &info->bytes);
  if (!s) return s;
  if (!expected_sha256.empty() && expected_sha256 != info->sha256) {
    Status refused = Status::corruption(
        "received " + describe(info->meta) +
        " fails its checksum: expected SHA-256 " + expected_sha256 +
        ", contents hash to " + info->sha256);
    base::log_line(DENGINE_LOG_WARN,
                   "snapshot store: refusing a snapshot: " + refused.message());
    return refused;
  }
  s = sync_tree(writer->data_dir_);
  if (s)
    s = write_file_synced(writer->tmp_dir_ + "/" + kMetaName,
                          encode_meta(*info));
  if (s) s = sync_path(writer->tmp_dir_, /*directory=*/true);
  return s;
}

// Renames a sealed snapshot directory into place, durably.
Status SnapshotStore::publish(const std::string& from_dir, SnapshotInfo info,
                              SnapshotInfo* out) {
  const std::string final_dir = dir_ + "/" + snapshot_name(info.meta);
  Status s;
  if (fs::exists(final_dir)) {
    // The same snapshot again: swap atomically, so a complete copy is in
    // place at every moment, then drop the old one (now under from_dir).
    if (::renameat2(AT_FDCWD, from_dir.c_str(), AT_FDCWD, final_dir.c_str(),
                    RENAME_EXCHANGE) != 0) {
      return Status::io_errno("rename (exchange)", final_dir, errno);
    }
    s = remove_tree(from_dir);
  } else if (::rename(from_dir.c_str(), final_dir.c_str()) != 0) {
    return Status::io_errno("rename", from_dir, errno);
  }
  if (s) s = sync_path(dir_, /*directory=*/true);
  if (s) s = remove_beyond_keep();
  if (!s) return s;
  info.data_dir = final_dir + "/" + kDataName;
  *out = std::move(info);
  return Status::ok();
}

// Retention: the newest `keep_` snapshots stay (damaged ones count too, so
// they age out like the rest).
Status SnapshotStore::remove_beyond_keep() {
  std::vector<std::string> names;
  Status s = names_with_prefix(dir_, kSnapPrefix, &names);
  if (!s) return s;
  std::erase_if(names,
                [](const std::string& n) { return !is_snapshot_name(n); });
  if (names.size() <= static_cast<size_t>(keep_)) return Status::ok();
  for (size_t i = 0; i + keep_ < names.size(); ++i) {
    s = remove_tree(dir_ + "/" + names[i]);
    if (!s) return s;
  }
  return sync_path(dir_, /*directory=*/true);
}

Status SnapshotStore::latest(SnapshotInfo* out) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  Status s = names_with_prefix(dir_, kSnapPrefix, &names);
  if (!s) return s;
  std::erase_if(names,
                [](const std::string& n) { return !is_snapshot_name(n); });
  if (names.empty()) return Status::not_found("no snapshot in " + dir_);
  // A damaged newest snapshot is an error, never a silent fall-back to an
  // older one: the log may already be purged up to the newest.
  s = load_info(dir_, names.back(), out);
  if (!s) {
    base::log_line(DENGINE_LOG_ERROR,
                   "snapshot store: refusing the newest snapshot, and not "
                   "falling back to an older one: " +
                       s.message());
  }
  return s;
}

Status SnapshotStore::list(std::vector<SnapshotInfo>* out) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  Status s = names_with_prefix(dir_, kSnapPrefix, &names);
  if (!s) return s;
  std::erase_if(names,
                [](const std::string& n) { return !is_snapshot_name(n); });
  std::vector<SnapshotInfo> infos;
  for (const std::string& name : names) {
    SnapshotInfo info;
    s = load_info(dir_, name, &info);
    if (!s) return s;
    infos.push_back(std::move(info));
  }
  *out = std::move(infos);
  return Status::ok();
}

Status SnapshotStore::verify(const SnapshotInfo& info) const {
  std::lock_guard lock(mutex_);
  std::string actual;
  uint64_t bytes = 0;
  Status s = hash_tree(info.data_dir, &actual, &bytes);
  if (!s) {
    s = Status::corruption(describe(info.meta) + " in " + info.data_dir +
                           " cannot be checksummed: " + s.to_string());
  } else if (actual != info.sha256) {
    s = Status::corruption(describe(info.meta) + " in " + info.data_dir +
                           " fails its checksum: expected SHA-256 " +
                           info.sha256 + ", contents hash to " + actual);
  }
  if (!s) {
    base::log_line(DENGINE_LOG_WARN,
                   "snapshot store: refusing a snapshot: " + s.message());
  }
  return s;
}

}  // namespace dengine::storage
