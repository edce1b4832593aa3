#include "sm/file_kv_machine.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <mutex>
#include <vector>

#include "base/byte_codec.h"
#include "base/crc32c.h"
#include "base/log.h"
#include "sm/kv_apply.h"
#include "sm/kv_command.h"
#include "sm/kv_read.h"

namespace dengine::sm {

using base::ByteReader;
using base::ByteWriter;

using storage::Status;

namespace {

constexpr uint32_t kImageMagic = 0x4D494B44;  // "DKIM" little-endian
constexpr char kSnapshotFileName[] = "kv.image";
constexpr char kImagePrefix[] = "image-";
constexpr char kLogPrefix[] = "chunks-";
constexpr uint64_t kRecordHeaderSize = 8;
// The log is compacted into a new image once it outgrows both of these.
constexpr uint64_t kCompactMinLogBytes = uint64_t{4} << 20;

std::string encode_image(const FileKvMachine::State& state) {
  std::string out;
  ByteWriter w(&out);
  w.u32(kImageMagic);
  w.u8(kKvFormatVersion);
  w.u64(state.last_applied);
  w.u64(state.clock_ms);
  w.u64(state.values.size());
  for (const auto& [key, stored] : state.values) {
    w.bytes(key);
    w.u64(stored.expire_at_ms);
    w.bytes(stored.value);
  }
  w.u32(base::crc32c(out));
  return out;
}

Status decode_image(std::string_view data, const std::string& name,
                    FileKvMachine::State* out) {
  auto damaged = [&name](const char* what) {
    return Status::corruption(std::string(what) + " in KV image " + name);
  };
  if (data.size() < 4) return damaged("truncated image");
  const std::string_view body = data.substr(0, data.size() - 4);
  uint32_t crc = 0;
  ByteReader(data.substr(body.size())).u32(&crc);
  if (crc != base::crc32c(body)) return damaged("bad checksum");
  ByteReader in(body);
  uint32_t magic = 0;
  uint8_t version = 0;
  uint64_t count = 0;
  FileKvMachine::State state;
  if (!in.u32(&magic) || magic != kImageMagic || !in.u8(&version) ||
      version != kKvFormatVersion || !in.u64(&state.last_applied) ||
      !in.u64(&state.clock_ms) || !in.u64(&count)) {
    return damaged("bad header");
  }
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view key;
    std::string_view value;
    uint64_t expire_at_ms = 0;
    if (!in.bytes(&key) || !in.u64(&expire_at_ms) || !in.bytes(&value)) {
      return damaged("truncated key");
    }
    state.values.insert_or_assign(
        std::string(key), StoredValue{std::string(value), expire_at_ms});
  }
  if (!in.at_end()) return damaged("trailing bytes");
  *out = std::move(state);
  return Status::ok();
}

// The payload of a chunk record: the state after it, as changes.
struct ChunkRecord {
  uint64_t last_applied = 0;
  uint64_t clock_ms = 0;
  std::vector<std::pair<std::string, std::optional<StoredValue>>> changes;
};

std::string encode_chunk(const ChunkRecord& record) {
  std::string payload;
  ByteWriter w(&payload);
  w.u8(kKvFormatVersion);
  w.u64(record.last_applied);
  w.u64(record.clock_ms);
  w.u32(static_cast<uint32_t>(record.changes.size()));
  for (const auto& [key, value] : record.changes) {
    w.u8(value ? 1 : 0);
    w.bytes(key);
    if (value) {
      w.u64(value->expire_at_ms);
      w.bytes(value->value);
    }
  }
  std::string out;
  ByteWriter header(&out);
  header.u32(static_cast<uint32_t>(payload.size()));
  header.u32(base::crc32c(payload));
  return out + payload;
}

bool decode_chunk(std::string_view payload, ChunkRecord* out) {
  ByteReader in(payload);
  uint8_t version = 0;
  uint32_t count = 0;
  if (!in.u8(&version) || version != kKvFormatVersion ||
      !in.u64(&out->last_applied) || !in.u64(&out->clock_ms) ||
      !in.u32(&count)) {
    return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t op = 0;
    std::string_view key;
    if (!in.u8(&op) || op > 1 || !in.bytes(&key)) return false;
    std::optional<StoredValue> value;
    if (op == 1) {
      std::string_view bytes;
      value.emplace();
      if (!in.u64(&value->expire_at_ms) || !in.bytes(&bytes)) return false;
      value->value.assign(bytes);
    }
    out->changes.emplace_back(std::string(key), std::move(value));
  }
  return in.at_end();
}

// Parses "<prefix><number><suffix>"; false for any other name.
bool parse_generation(std::string_view name, std::string_view prefix,
                      std::string_view suffix, uint64_t* generation) {
  if (name.size() <= prefix.size() + suffix.size() ||
      name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix) {
    return false;
  }
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size() - suffix.size();
  auto [end, error] = std::from_chars(first, last, *generation);
  return error == std::errc() && end == last;
}

Status read_file(storage::FileSystem* fs, const std::string& path,
                 std::string* out) {
  std::unique_ptr<storage::File> file;
  if (Status s = fs->open(path, false, &file); !s) return s;
  return file->read(0, file->size(), out);
}

// Writes `data` as a new file at `path`, durably, via a temporary name.
Status write_file_atomically(storage::FileSystem* fs, const std::string& dir,
                             const std::string& name, std::string_view data) {
  const std::string tmp = dir + "/" + name + ".tmp";
  std::unique_ptr<storage::File> file;
  if (Status s = fs->open(tmp, true, &file); !s) return s;
  if (Status s = file->truncate(0); !s) return s;
  if (Status s = file->write(0, data); !s) return s;
  if (Status s = file->sync(); !s) return s;
  if (Status s = fs->rename(tmp, dir + "/" + name); !s) return s;
  return fs->sync_dir(dir);
}

// Applies a chunk's changes to a state and its expiry index.
void apply_changes(
    const std::vector<std::pair<std::string, std::optional<StoredValue>>>&
        changes,
    FileKvMachine::State* state,
    std::set<std::pair<uint64_t, std::string>>* expiries) {
  for (const auto& [key, value] : changes) {
    auto it = state->values.find(key);
    if (it != state->values.end()) {
      expiries->erase({it->second.expire_at_ms, key});
      if (value) {
        it->second = *value;
      } else {
        state->values.erase(it);
      }
    } else if (value) {
      state->values.emplace(key, *value);
    }
    if (value && value->expire_at_ms != 0) {
      expiries->emplace(value->expire_at_ms, key);
    }
  }
}

// The committed state as the applier sees it. Only the apply thread changes
// the maps, so it reads them without the lock.
class CommittedState final : public KvBaseStore {
 public:
  CommittedState(const FileKvMachine::State& state,
                 const std::set<std::pair<uint64_t, std::string>>& expiries)
      : state_(state), expiries_(expiries) {}

  Status get(std::string_view key, std::optional<StoredValue>* out) override {
    auto it = state_.values.find(key);
    out->reset();
    if (it != state_.values.end()) *out = it->second;
    return Status::ok();
  }

  Status expiring_keys(uint64_t after_ms, uint64_t up_to_ms,
                       std::vector<std::string>* out) override {
    if (after_ms == std::numeric_limits<uint64_t>::max()) return Status::ok();
    for (auto it = expiries_.lower_bound({after_ms + 1, std::string()});
         it != expiries_.end() && it->first <= up_to_ms; ++it) {
      out->push_back(it->second);
    }
    return Status::ok();
  }

 private:
  const FileKvMachine::State& state_;
  const std::set<std::pair<uint64_t, std::string>>& expiries_;
};

// A view of the state under the caller's shared lock.
class LockedView final : public KvReadView {
 public:
  explicit LockedView(const FileKvMachine::State& state) : state_(state) {}

  Status revision(uint64_t* out) override {
    *out = state_.last_applied;
    return Status::ok();
  }

  Status get(std::string_view key, std::optional<std::string>* value) override {
    auto it = state_.values.find(key);
    value->reset();
    if (it != state_.values.end()) *value = it->second.value;
    return Status::ok();
  }

  Status scan_prefix(std::string_view prefix, uint32_t limit,
                     std::vector<std::pair<std::string, std::string>>* entries,
                     bool* more) override {
    *more = false;
    for (auto it = state_.values.lower_bound(prefix);
         it != state_.values.end() && it->first.starts_with(prefix); ++it) {
      if (entries->size() == limit) {
        *more = true;
        break;
      }
      entries->emplace_back(it->first, it->second.value);
    }
    return Status::ok();
  }

 private:
  const FileKvMachine::State& state_;
};

}  // namespace

FileKvMachine::~FileKvMachine() = default;

std::string FileKvMachine::image_path(uint64_t generation) const {
  return path_ + "/" + kImagePrefix + std::to_string(generation);
}

std::string FileKvMachine::log_path(uint64_t generation) const {
  return path_ + "/" + kLogPrefix + std::to_string(generation) + ".log";
}

Status FileKvMachine::open(const std::string& path,
                           std::unique_ptr<FileKvMachine>* out,
                           storage::FileSystem* fs) {
  std::unique_ptr<FileKvMachine> machine(
      new FileKvMachine(path, fs ? fs : storage::posix_file_system()));
  if (Status s = machine->recover(); !s) return s;
  *out = std::move(machine);
  return Status::ok();
}

Status FileKvMachine::recover() {
  if (Status s = fs_->create_dirs(path_); !s) return s;
  std::vector<std::string> names;
  if (Status s = fs_->list(path_, &names); !s) return s;
  bool have_image = false;
  for (const std::string& name : names) {
    uint64_t generation = 0;
    if (parse_generation(name, kImagePrefix, "", &generation) &&
        generation >= generation_) {
      generation_ = generation;
      have_image = true;
    }
  }
  // Anything not of the current generation is a leftover of a switch.
  for (const std::string& name : names) {
    uint64_t generation = 0;
    const bool current =
        (parse_generation(name, kImagePrefix, "", &generation) ||
         parse_generation(name, kLogPrefix, ".log", &generation)) &&
        generation == generation_;
    if (!current) {
      base::log_line(DENGINE_LOG_INFO, "file KV machine: removing " + path_ +
                                           "/" + name +
                                           ", left by a switch to generation " +
                                           std::to_string(generation_));
      if (Status s = fs_->remove(path_ + "/" + name); !s) return s;
    }
  }
  State state;
  if (have_image) {
    std::string image;
    if (Status s = read_file(fs_, image_path(generation_), &image); !s) {
      return s;
    }
    if (Status s = decode_image(image, image_path(generation_), &state); !s) {
      return s;
    }
    image_size_ = image.size();
  }
  set_state(std::move(state));
  return replay_log();
}

Status FileKvMachine::replay_log() {
  const std::string path = log_path(generation_);
  if (Status s = fs_->open(path, true, &log_); !s) return s;
  std::string data;
  if (Status s = log_->read(0, log_->size(), &data); !s) return s;
  uint64_t offset = 0;
  while (offset < data.size()) {
    // A file system may extend the file before its data lands, leaving
    // zeros where the last records were going: a torn tail, though a zero
    // header would pass the checksum (the CRC-32C of no bytes is 0). Zeros
    // with anything after them are damage, caught below.
    const std::string_view rest = std::string_view(data).substr(offset);
    if (std::all_of(rest.begin(), rest.end(),
                    [](char byte) { return byte == 0; })) {
      break;
    }
    uint32_t length = 0;
    uint32_t crc = 0;
    ByteReader header(rest);
    if (!header.u32(&length) || !header.u32(&crc) ||
        kRecordHeaderSize + length > data.size() - offset) {
      break;  // torn: the record was cut short
    }
    const uint64_t end = offset + kRecordHeaderSize + length;
    const std::string_view payload =
        std::string_view(data).substr(offset + kRecordHeaderSize, length);
    ChunkRecord record;
    if (crc != base::crc32c(payload) || !decode_chunk(payload, &record) ||
        record.last_applied <= state_.last_applied) {
      if (end == data.size() && crc != base::crc32c(payload)) {
        break;  // the last record's bytes were only partly written
      }
      return Status::corruption("damaged record in " + path + " at offset " +
                                std::to_string(offset));
    }
    apply_changes(record.changes, &state_, &expiries_);
    state_.last_applied = record.last_applied;
    state_.clock_ms = record.clock_ms;
    offset = end;
  }
  if (offset < data.size()) {
    base::log_line(DENGINE_LOG_WARN,
                   "file KV machine: cutting the torn tail of " + path +
                       " at offset " + std::to_string(offset) + " (" +
                       std::to_string(data.size() - offset) +
                       " bytes): a record the crash cut short");
    if (Status s = log_->truncate(offset); !s) return s;
    if (Status s = log_->sync(); !s) return s;
  }
  log_size_ = offset;
  last_applied_ = state_.last_applied;
  key_count_ = state_.values.size();
  return Status::ok();
}

void FileKvMachine::set_state(State state) {
  std::set<std::pair<uint64_t, std::string>> expiries;
  for (const auto& [key, stored] : state.values) {
    if (stored.expire_at_ms != 0) expiries.emplace(stored.expire_at_ms, key);
  }
  std::unique_lock lock(state_mutex_);
  state_ = std::move(state);
  expiries_ = std::move(expiries);
  last_applied_ = state_.last_applied;
  key_count_ = state_.values.size();
}

Status FileKvMachine::apply_chunk(const dengine_entry* entries, size_t count,
                                  std::vector<std::optional<KvResult>>* results,
                                  std::vector<watch::Event>* events,
                                  const std::function<void()>* before_commit) {
  if (!log_) return Status::error(storage::StatusCode::kClosed, "KV closed");
  CommittedState committed(state_, expiries_);
  KvChunkApplier applier(&committed, state_.clock_ms);
  applier.record_events(events);
  if (Status s =
          applier.apply_entries(entries, count, state_.last_applied, results);
      !s) {
    return s;
  }
  if (count == 0 || entries[count - 1].index <= state_.last_applied) {
    return Status::ok();
  }
  ChunkRecord record;
  record.last_applied = entries[count - 1].index;
  record.clock_ms = applier.clock_ms();
  for (const auto& [key, change] : applier.changes()) {
    record.changes.emplace_back(key, change.value);
  }
  const std::string bytes = encode_chunk(record);
  if (before_commit != nullptr) (*before_commit)();
  if (Status s = log_->write(log_size_, bytes); !s) return s;
  log_size_ += bytes.size();
  {
    std::unique_lock lock(state_mutex_);
    apply_changes(record.changes, &state_, &expiries_);
    state_.last_applied = record.last_applied;
    state_.clock_ms = record.clock_ms;
    last_applied_ = state_.last_applied;
    key_count_ = state_.values.size();
  }
  if (log_size_ > kCompactMinLogBytes && log_size_ > image_size_) {
    return switch_to_image(state_);
  }
  return Status::ok();
}

Status FileKvMachine::switch_to_image(State state) {
  const uint64_t next = generation_ + 1;
  const std::string image = encode_image(state);
  std::unique_ptr<storage::File> log;
  if (Status s = fs_->open(log_path(next), true, &log); !s) return s;
  if (Status s = log->truncate(0); !s) return s;
  if (Status s = write_file_atomically(
          fs_, path_, kImagePrefix + std::to_string(next), image);
      !s) {
    return s;
  }
  // The new image is in place: the old generation is no longer needed.
  const uint64_t previous = generation_;
  generation_ = next;
  log_ = std::move(log);
  log_size_ = 0;
  image_size_ = image.size();
  set_state(std::move(state));
  if (fs_->exists(image_path(previous))) {
    if (Status s = fs_->remove(image_path(previous)); !s) return s;
  }
  return fs_->remove(log_path(previous));
}

Status FileKvMachine::read(std::string_view query, std::string* answer,
                           uint64_t* revision) {
  std::shared_lock lock(state_mutex_);
  LockedView view(state_);
  return serve_read(&view, query, answer, revision);
}

Status FileKvMachine::generate_snapshot(const std::string& dir,
                                        uint64_t last_index) {
  if (last_index != state_.last_applied) {
    return Status::invalid_argument(
        "snapshot at " + std::to_string(last_index) + " but last applied is " +
        std::to_string(state_.last_applied));
  }
  return write_file_atomically(fs_, dir, kSnapshotFileName,
                               encode_image(state_));
}

Status FileKvMachine::install_snapshot(const std::string& dir,
                                       uint64_t last_index) {
  const std::string path = dir + "/" + kSnapshotFileName;
  std::string image;
  if (Status s = read_file(fs_, path, &image); !s) return s;
  State state;
  if (Status s = decode_image(image, path, &state); !s) return s;
  state.last_applied = last_index;
  return switch_to_image(std::move(state));
}

Status FileKvMachine::flush() {
  if (!log_) return Status::error(storage::StatusCode::kClosed, "KV closed");
  return log_->sync();
}

Status FileKvMachine::reset() { return switch_to_image(State()); }

}  // namespace dengine::sm
