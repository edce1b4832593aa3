#include "watch/history_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "base/byte_codec.h"
#include "base/crc32c.h"
#include "base/log.h"
#include "dengine.h"

namespace dengine::watch {

namespace fs = std::filesystem;

namespace {

constexpr uint8_t kStartRecord = 1;
constexpr uint8_t kChunkRecord = 2;
constexpr char kPrefix[] = "events-";
constexpr char kSuffix[] = ".log";
// Far above any record this writes: a larger length is a corrupt header.
constexpr uint32_t kMaxRecordBytes = 1u << 30;

std::string segment_name(uint64_t number) {
  char name[40];
  std::snprintf(name, sizeof name, "%s%016llx%s", kPrefix,
                static_cast<unsigned long long>(number), kSuffix);
  return name;
}

// The segment number of a file name, or 0 for another file.
uint64_t number_of(const std::string& name) {
  const size_t prefix = sizeof(kPrefix) - 1;
  const size_t suffix = sizeof(kSuffix) - 1;
  if (name.size() != prefix + 16 + suffix ||
      name.compare(0, prefix, kPrefix) != 0 ||
      name.compare(name.size() - suffix, suffix, kSuffix) != 0) {
    return 0;
  }
  uint64_t number = 0;
  for (char c : name.substr(prefix, 16)) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (digit < 0) return 0;
    number = number * 16 + static_cast<uint64_t>(digit);
  }
  return number;
}

bool decode_event(base::ByteReader* in, Event* out) {
  uint8_t type = 0;
  uint8_t has_prev = 0;
  std::string_view key, value, prev, address;
  if (!in->u64(&out->revision) || !in->u8(&type) || !in->bytes(&key) ||
      !in->bytes(&value) || !in->u8(&has_prev)) {
    return false;
  }
  if (type < static_cast<uint8_t>(EventType::kPut) ||
      type > static_cast<uint8_t>(EventType::kLeader) || has_prev > 1) {
    return false;
  }
  if (has_prev == 1 && !in->bytes(&prev)) return false;
  if (!in->u64(&out->node_id) || !in->u64(&out->term) || !in->bytes(&address)) {
    return false;
  }
  out->type = static_cast<EventType>(type);
  out->key = key;
  out->value = value;
  if (has_prev == 1) out->prev_value = std::string(prev);
  out->address = address;
  return true;
}

// One segment's records, read until the end or the first bad one.
struct SegmentContents {
  bool started = false;
  uint64_t after = 0;
  // Each chunk record: its covered index and its events.
  std::vector<std::pair<uint64_t, std::vector<Event>>> chunks;
  size_t good_bytes = 0;  // the length of the records that decoded
  std::string problem;    // why reading stopped early, or ""
};

bool decode_chunk(std::string_view payload, uint64_t* covered_to,
                  std::vector<Event>* events) {
  base::ByteReader in(payload);
  uint8_t kind = 0;
  uint32_t count = 0;
  if (!in.u8(&kind) || kind != kChunkRecord || !in.u64(covered_to) ||
      !in.u32(&count)) {
    return false;
  }
  for (uint32_t i = 0; i < count; ++i) {
    Event event;
    if (!decode_event(&in, &event)) return false;
    events->push_back(std::move(event));
  }
  return in.at_end();
}

SegmentContents read_segment(const std::string& data) {
  SegmentContents out;
  size_t offset = 0;
  while (offset < data.size()) {
    base::ByteReader header(std::string_view(data).substr(offset));
    uint32_t length = 0;
    uint32_t crc = 0;
    if (!header.u32(&length) || !header.u32(&crc) || length > kMaxRecordBytes ||
        header.remaining() < length) {
      out.problem = "a torn record at offset " + std::to_string(offset);
      return out;
    }
    const std::string_view payload =
        std::string_view(data).substr(offset + 8, length);
    if (base::crc32c(payload) != crc) {
      out.problem = "a bad checksum at offset " + std::to_string(offset);
      return out;
    }
    if (!out.started) {
      base::ByteReader in(payload);
      uint8_t kind = 0;
      if (!in.u8(&kind) || kind != kStartRecord || !in.u64(&out.after) ||
          !in.at_end()) {
        out.problem = "no start record";
        return out;
      }
      out.started = true;
    } else {
      uint64_t covered_to = 0;
      std::vector<Event> events;
      if (!decode_chunk(payload, &covered_to, &events)) {
        out.problem = "a malformed record at offset " + std::to_string(offset);
        return out;
      }
      out.chunks.emplace_back(covered_to, std::move(events));
    }
    offset += 8 + length;
    out.good_bytes = offset;
  }
  return out;
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream data;
  data << in.rdbuf();
  *out = std::move(data).str();
  return true;
}

void warn(const std::string& message) {
  base::log_line(DENGINE_LOG_WARN, "watch history: " + message);
}

}  // namespace

void HistoryLog::encode_event(const Event& event, std::string* out) {
  base::ByteWriter w(out);
  w.u64(event.revision);
  w.u8(static_cast<uint8_t>(event.type));
  w.bytes(event.key);
  w.bytes(event.value);
  w.u8(event.prev_value ? 1 : 0);
  if (event.prev_value) w.bytes(*event.prev_value);
  w.u64(event.node_id);
  w.u64(event.term);
  w.bytes(event.address);
}

HistoryLog::HistoryLog(std::string dir, HistoryLimits limits)
    : dir_(std::move(dir)), limits_(limits) {}

HistoryLog::~HistoryLog() {
  if (fd_ >= 0) ::close(fd_);
}

int HistoryLog::open(const std::string& dir, HistoryLimits limits,
                     std::unique_ptr<HistoryLog>* out, Restored* restored,
                     std::string* error) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    *error = "cannot create " + dir + ": " + ec.message();
    return DENGINE_ERR_IO;
  }
  std::vector<uint64_t> numbers;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (uint64_t n = number_of(entry.path().filename().string())) {
      numbers.push_back(n);
    }
  }
  if (ec) {
    *error = "cannot list " + dir + ": " + ec.message();
    return DENGINE_ERR_IO;
  }
  std::sort(numbers.begin(), numbers.end());

  std::unique_ptr<HistoryLog> log(new HistoryLog(dir, limits));
  *restored = Restored{};
  for (uint64_t number : numbers) {
    Segment segment{number, dir + "/" + segment_name(number), 0, 0};
    log->next_number_ = number + 1;
    std::string data;
    SegmentContents contents;
    if (!read_file(segment.path, &data)) {
      contents.problem = "cannot be read";
    } else {
      contents = read_segment(data);
    }
    if (!contents.problem.empty()) {
      warn(segment.path + ": " + contents.problem + "; cut there");
      fs::resize_file(segment.path, contents.good_bytes, ec);
    }
    if (!contents.started) {
      fs::remove(segment.path, ec);
      continue;
    }
    if (!restored->found || contents.after != restored->covered_to) {
      // A gap (or the first segment): what came before cannot be continued.
      for (const Segment& old : log->segments_) fs::remove(old.path, ec);
      log->segments_.clear();
      *restored = Restored{true, contents.after + 1, contents.after, {}};
    }
    for (auto& [covered_to, events] : contents.chunks) {
      for (Event& event : events) {
        segment.events++;
        segment.bytes += footprint(event);
        restored->events.push_back(std::move(event));
      }
      restored->covered_to = covered_to;
    }
    log->segments_.push_back(std::move(segment));
  }
  log->covered_to_ = restored->covered_to;
  log->start_segment(restored->covered_to);
  *out = std::move(log);
  return DENGINE_OK;
}

void HistoryLog::start_segment(uint64_t after) {
  if (broken_) return;
  if (fd_ >= 0) ::close(fd_);
  Segment segment{next_number_++, "", 0, 0};
  segment.path = dir_ + "/" + segment_name(segment.number);
  fd_ = ::open(segment.path.c_str(),
               O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    fail("cannot create " + segment.path + ": " + std::strerror(errno));
    return;
  }
  segments_.push_back(std::move(segment));
  std::string payload;
  base::ByteWriter w(&payload);
  w.u8(kStartRecord);
  w.u64(after);
  write_record(payload);
  drop_old_segments();
}

bool HistoryLog::write_record(const std::string& payload) {
  if (broken_ || fd_ < 0) return false;
  std::string record;
  base::ByteWriter w(&record);
  w.u32(static_cast<uint32_t>(payload.size()));
  w.u32(base::crc32c(payload));
  record += payload;
  const char* p = record.data();
  size_t left = record.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail("cannot write " + segments_.back().path + ": " +
           std::strerror(n < 0 ? errno : EIO));
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

void HistoryLog::append(const std::vector<Event>& events, uint64_t covered_to) {
  if (broken_) return;
  std::string payload;
  base::ByteWriter w(&payload);
  w.u8(kChunkRecord);
  w.u64(covered_to);
  w.u32(static_cast<uint32_t>(events.size()));
  Segment& segment = segments_.back();
  for (const Event& event : events) {
    encode_event(event, &payload);
    segment.events++;
    segment.bytes += footprint(event);
  }
  if (!write_record(payload)) return;
  covered_to_ = covered_to;
  // A quarter of the limits per segment (and at least a few events).
  const Segment& current = segments_.back();
  if (current.events >= std::max<uint64_t>(limits_.max_events / 4, 16) ||
      current.bytes >= std::max<uint64_t>(limits_.max_bytes / 4, 4096)) {
    start_segment(covered_to);
  }
}

void HistoryLog::drop_old_segments() {
  // The newer segments alone fill the history: the oldest adds nothing.
  std::error_code ec;
  while (segments_.size() > 1) {
    uint64_t events = 0;
    uint64_t bytes = 0;
    for (size_t i = 1; i < segments_.size(); ++i) {
      events += segments_[i].events;
      bytes += segments_[i].bytes;
    }
    if (events < limits_.max_events && bytes < limits_.max_bytes) return;
    fs::remove(segments_.front().path, ec);
    segments_.erase(segments_.begin());
  }
}

void HistoryLog::reset(uint64_t index) {
  remove_all();
  covered_to_ = index;
  start_segment(index);
}

void HistoryLog::remove_all() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  for (const Segment& segment : segments_) fs::remove(segment.path, ec);
  segments_.clear();
}

void HistoryLog::fail(const std::string& what) {
  warn(what +
       "; the history is no longer kept on disk (a restart starts it "
       "again)");
  remove_all();
  broken_ = true;
}

}  // namespace dengine::watch
