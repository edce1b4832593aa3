#include "testkit/faulty_file_system.h"

#include <set>
#include <utility>

#include "testkit/sim_random.h"

namespace dengine::testkit {

using storage::File;
using storage::Status;

namespace {

// An unsynced change to a file's content, replayed by kTornWrite.
struct Operation {
  enum class Kind : uint8_t { kWrite, kTruncate, kAllocate };
  Kind kind = Kind::kWrite;
  uint64_t offset = 0;  // kWrite
  std::string data;     // kWrite
  uint64_t size = 0;    // kTruncate, kAllocate
};

std::pair<std::string, std::string> split_path(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

Status crashed() { return Status::io("file opened before a simulated crash"); }

Status powered_off() { return Status::io("the disk lost power"); }

}  // namespace

const char* to_string(CrashMode mode) {
  switch (mode) {
    case CrashMode::kDropUnsynced:
      return "drop-unsynced";
    case CrashMode::kTornWrite:
      return "torn-write";
    case CrashMode::kBitFlip:
      return "bit-flip";
  }
  return "unknown";
}

struct FaultyFileSystem::Inode {
  std::string content;
  std::string durable;
  // Bytes [0, extent) of the content were written by write() at some time.
  uint64_t written_extent = 0;
  uint64_t durable_written_extent = 0;
  std::vector<Operation> unsynced;
  uint64_t last_operation = 0;

  // Applies op to the content; a write only up to `limit` of its bytes.
  void apply(const Operation& op, size_t limit) {
    switch (op.kind) {
      case Operation::Kind::kWrite: {
        const size_t n = std::min(limit, op.data.size());
        if (content.size() < op.offset + n) content.resize(op.offset + n);
        content.replace(op.offset, n, op.data, 0, n);
        written_extent = std::max<uint64_t>(written_extent, op.offset + n);
        break;
      }
      case Operation::Kind::kTruncate:
        content.resize(op.size);
        written_extent = std::min(written_extent, op.size);
        break;
      case Operation::Kind::kAllocate:
        if (content.size() < op.size) content.resize(op.size);
        break;
    }
  }

  void record(Operation op, uint64_t number) {
    apply(op, op.data.size());
    unsynced.push_back(std::move(op));
    last_operation = number;
  }

  void make_durable() {
    durable = content;
    durable_written_extent = written_extent;
    unsynced.clear();
  }

  void revert() {
    content = durable;
    written_extent = durable_written_extent;
    unsynced.clear();
  }
};

struct FaultyFileSystem::Dir {
  std::map<std::string, std::shared_ptr<Inode>> entries;
  std::map<std::string, std::shared_ptr<Inode>> durable;
};

class FaultyFileSystem::FaultyFile final : public File {
 public:
  FaultyFile(FaultyFileSystem* fs, std::shared_ptr<Inode> inode,
             uint64_t generation)
      : fs_(fs), inode_(std::move(inode)), generation_(generation) {}

  Status read(uint64_t offset, size_t n, std::string* out) const override {
    std::lock_guard lock(fs_->mutex_);
    if (generation_ != fs_->generation_) return crashed();
    const std::string& content = inode_->content;
    out->clear();
    if (offset < content.size()) {
      out->assign(content, offset,
                  std::min<uint64_t>(n, content.size() - offset));
    }
    return Status::ok();
  }

  Status write(uint64_t offset, std::string_view data) override {
    return change({Operation::Kind::kWrite, offset, std::string(data), 0});
  }

  Status sync() override {
    std::lock_guard lock(fs_->mutex_);
    if (generation_ != fs_->generation_) return crashed();
    Status s = fs_->before_change();
    if (!s) return s;
    inode_->make_durable();
    return Status::ok();
  }

  Status allocate(uint64_t size) override {
    return change({Operation::Kind::kAllocate, 0, {}, size});
  }

  Status truncate(uint64_t size) override {
    return change({Operation::Kind::kTruncate, 0, {}, size});
  }

  uint64_t size() const override {
    std::lock_guard lock(fs_->mutex_);
    return inode_->content.size();
  }

 private:
  Status change(Operation op) {
    std::lock_guard lock(fs_->mutex_);
    if (generation_ != fs_->generation_) return crashed();
    Status s = fs_->before_change();
    if (!s) return s;
    inode_->record(std::move(op), ++fs_->operation_count_);
    return Status::ok();
  }

  FaultyFileSystem* fs_;
  std::shared_ptr<Inode> inode_;
  uint64_t generation_;
};

FaultyFileSystem::FaultyFileSystem() = default;
FaultyFileSystem::~FaultyFileSystem() = default;

std::shared_ptr<FaultyFileSystem::Inode> FaultyFileSystem::find(
    const std::string& path) {
  const auto [dir, name] = split_path(path);
  const auto d = dirs_.find(dir);
  if (d == dirs_.end()) return nullptr;
  const auto entry = d->second.entries.find(name);
  if (entry == d->second.entries.end()) return nullptr;
  return entry->second;
}

Status FaultyFileSystem::before_change() {
  if (down_) return powered_off();
  if (!armed_) return Status::ok();
  if (armed_->changes_left > 1) {
    --armed_->changes_left;
    return Status::ok();
  }
  crash_locked(armed_->seed, armed_->mode);
  armed_.reset();
  down_ = true;
  return powered_off();
}

Status FaultyFileSystem::open(const std::string& path, bool create,
                              std::unique_ptr<File>* out) {
  std::lock_guard lock(mutex_);
  if (down_) return powered_off();
  std::shared_ptr<Inode> inode = find(path);
  if (!inode) {
    const auto [dir, name] = split_path(path);
    const auto d = dirs_.find(dir);
    if (d == dirs_.end()) return Status::not_found("no directory " + dir);
    if (!create) return Status::not_found("no file " + path);
    Status s = before_change();
    if (!s) return s;
    inode = std::make_shared<Inode>();
    d->second.entries[name] = inode;
  }
  *out = std::make_unique<FaultyFile>(this, inode, generation_);
  return Status::ok();
}

Status FaultyFileSystem::create_dirs(const std::string& path) {
  std::lock_guard lock(mutex_);
  Status s = before_change();
  if (!s) return s;
  if (find(path)) return Status::io("mkdir " + path + ": is a file");
  for (size_t at = 1; at <= path.size(); ++at) {
    if (at == path.size() || path[at] == '/') dirs_[path.substr(0, at)];
  }
  return Status::ok();
}

Status FaultyFileSystem::list(const std::string& dir,
                              std::vector<std::string>* names) {
  std::lock_guard lock(mutex_);
  names->clear();
  if (down_) return powered_off();
  const auto d = dirs_.find(dir);
  if (d == dirs_.end()) return Status::not_found("no directory " + dir);
  std::set<std::string> sorted;
  for (const auto& [name, inode] : d->second.entries) sorted.insert(name);
  for (const auto& [other, unused] : dirs_) {
    const auto [parent, name] = split_path(other);
    if (parent == dir && other != dir) sorted.insert(name);
  }
  names->assign(sorted.begin(), sorted.end());
  return Status::ok();
}

Status FaultyFileSystem::remove(const std::string& path) {
  std::lock_guard lock(mutex_);
  Status s = before_change();
  if (!s) return s;
  const auto [dir, name] = split_path(path);
  const auto d = dirs_.find(dir);
  if (d == dirs_.end() || d->second.entries.erase(name) == 0) {
    return Status::not_found("no file " + path);
  }
  return Status::ok();
}

Status FaultyFileSystem::remove_all(const std::string& path) {
  std::lock_guard lock(mutex_);
  Status s = before_change();
  if (!s) return s;
  const auto [parent, name] = split_path(path);
  if (const auto d = dirs_.find(parent); d != dirs_.end()) {
    d->second.entries.erase(name);
  }
  const std::string prefix = path + "/";
  for (auto d = dirs_.begin(); d != dirs_.end();) {
    if (d->first == path || d->first.starts_with(prefix)) {
      d = dirs_.erase(d);
    } else {
      ++d;
    }
  }
  return Status::ok();
}

Status FaultyFileSystem::rename(const std::string& from,
                                const std::string& to) {
  std::lock_guard lock(mutex_);
  Status s = before_change();
  if (!s) return s;
  std::shared_ptr<Inode> inode = find(from);
  if (!inode) return Status::not_found("no file " + from);
  const auto [to_dir, to_name] = split_path(to);
  const auto d = dirs_.find(to_dir);
  if (d == dirs_.end()) return Status::not_found("no directory " + to_dir);
  const auto [from_dir, from_name] = split_path(from);
  dirs_[from_dir].entries.erase(from_name);
  d->second.entries[to_name] = std::move(inode);
  return Status::ok();
}

Status FaultyFileSystem::sync_dir(const std::string& dir) {
  std::lock_guard lock(mutex_);
  Status s = before_change();
  if (!s) return s;
  const auto d = dirs_.find(dir);
  if (d == dirs_.end()) return Status::not_found("no directory " + dir);
  d->second.durable = d->second.entries;
  return Status::ok();
}

bool FaultyFileSystem::exists(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (down_) return false;
  return find(path) != nullptr || dirs_.contains(path);
}

std::optional<BitFlip> FaultyFileSystem::crash(uint64_t seed, CrashMode mode) {
  std::lock_guard lock(mutex_);
  armed_.reset();
  down_ = false;
  return crash_locked(seed, mode);
}

void FaultyFileSystem::crash_at_change(uint64_t change, uint64_t seed,
                                       CrashMode mode) {
  std::lock_guard lock(mutex_);
  armed_ = ArmedCrash{change, seed, mode};
}

bool FaultyFileSystem::crash_struck() {
  std::lock_guard lock(mutex_);
  return down_;
}

void FaultyFileSystem::restart() {
  std::lock_guard lock(mutex_);
  down_ = false;
}

std::optional<BitFlip> FaultyFileSystem::crash_locked(uint64_t seed,
                                                      CrashMode mode) {
  SimRandom random(seed);
  ++generation_;
  // The files that survive, in path order so the seed alone decides.
  std::vector<std::pair<std::string, std::shared_ptr<Inode>>> survivors;
  std::set<Inode*> seen;
  for (auto& [path, dir] : dirs_) {
    dir.entries = dir.durable;
    for (const auto& [name, inode] : dir.entries) {
      if (seen.insert(inode.get()).second) {
        survivors.emplace_back(path + "/" + name, inode);
      }
    }
  }
  Inode* torn = nullptr;
  if (mode == CrashMode::kTornWrite) {
    for (const auto& [path, inode] : survivors) {
      if (!inode->unsynced.empty() &&
          (torn == nullptr || inode->last_operation > torn->last_operation)) {
        torn = inode.get();
      }
    }
  }
  for (const auto& [path, inode] : survivors) {
    if (inode.get() != torn) {
      inode->revert();
      continue;
    }
    std::vector<Operation> operations = std::move(inode->unsynced);
    inode->revert();
    const size_t kept = random.below(operations.size() + 1);
    for (size_t k = 0; k < kept; ++k) {
      const Operation& op = operations[k];
      const bool last = k + 1 == kept;
      inode->apply(op,
                   last ? random.below(op.data.size() + 1) : op.data.size());
    }
    inode->make_durable();
  }
  if (mode != CrashMode::kBitFlip) return std::nullopt;
  uint64_t written = 0;
  for (const auto& [path, inode] : survivors) {
    written += std::min<uint64_t>(inode->written_extent, inode->durable.size());
  }
  if (written == 0) return std::nullopt;
  uint64_t target = random.below(written);
  for (const auto& [path, inode] : survivors) {
    const uint64_t n =
        std::min<uint64_t>(inode->written_extent, inode->durable.size());
    if (target >= n) {
      target -= n;
      continue;
    }
    const int bit = static_cast<int>(random.below(8));
    inode->durable[target] =
        static_cast<char>(inode->durable[target] ^ (1 << bit));
    inode->content = inode->durable;
    return BitFlip{path, target, bit};
  }
  return std::nullopt;
}

Status FaultyFileSystem::read_all(const std::string& path, std::string* out) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<Inode> inode = find(path);
  if (!inode) return Status::not_found("no file " + path);
  *out = inode->content;
  return Status::ok();
}

Status FaultyFileSystem::overwrite(const std::string& path, uint64_t offset,
                                   const std::string& bytes) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<Inode> inode = find(path);
  if (!inode) return Status::not_found("no file " + path);
  for (std::string* content : {&inode->content, &inode->durable}) {
    if (content->size() < offset + bytes.size()) {
      content->resize(offset + bytes.size());
    }
    content->replace(offset, bytes.size(), bytes);
  }
  return Status::ok();
}

}  // namespace dengine::testkit
