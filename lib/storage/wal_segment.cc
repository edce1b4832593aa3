#include "storage/wal_segment.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace dengine::storage::wal {
namespace {

constexpr uint64_t kWindowBytes = uint64_t{4} << 20;
constexpr std::string_view kPrefix = "wal-";
constexpr std::string_view kSuffix = ".log";
constexpr size_t kHexDigits = 16;

}  // namespace

std::string segment_file_name(uint64_t sequence) {
  char name[32];
  std::snprintf(name, sizeof(name), "wal-%016" PRIx64 ".log", sequence);
  return name;
}

bool parse_segment_file_name(std::string_view name, uint64_t* sequence) {
  if (name.size() != kPrefix.size() + kHexDigits + kSuffix.size() ||
      !name.starts_with(kPrefix) || !name.ends_with(kSuffix)) {
    return false;
  }
  uint64_t value = 0;
  for (char c : name.substr(kPrefix.size(), kHexDigits)) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return false;
    }
    value = value * 16 + static_cast<uint64_t>(digit);
  }
  *sequence = value;
  return true;
}

SegmentReader::SegmentReader(const File* file, std::string path)
    : file_(file), path_(std::move(path)), file_size_(file->size()) {}

Status SegmentReader::view(uint64_t offset, uint64_t n, std::string_view* out) {
  if (offset >= file_size_) {
    *out = {};
    return Status::ok();
  }
  n = std::min(n, file_size_ - offset);
  if (offset < window_offset_ || offset + n > window_offset_ + window_.size()) {
    window_offset_ = offset;
    Status s = file_->read(offset, std::max(n, kWindowBytes), &window_);
    if (!s) return s;
  }
  const uint64_t available = window_offset_ + window_.size() - offset;
  *out = std::string_view(window_).substr(offset - window_offset_,
                                          std::min(n, available));
  return Status::ok();
}

Status SegmentReader::read(uint64_t offset, ScannedRecord* record,
                           RecordState* state, std::string* problem) {
  std::string_view bytes;
  Status s = view(offset, kHeaderSize, &bytes);
  if (!s) return s;
  RecordHeader header;
  *state = decode_header(bytes, &header, problem);
  if (*state != RecordState::kValid) return Status::ok();
  const uint64_t size = record_size(header.payload_size);
  s = view(offset, size, &bytes);
  if (!s) return s;
  *state = check_record(header, bytes, problem);
  if (*state != RecordState::kValid) return Status::ok();
  record->offset = offset;
  record->size = size;
  record->header = header;
  record->payload = bytes.substr(kHeaderSize, header.payload_size);
  return Status::ok();
}

Status scan_segment(
    SegmentReader* reader,
    const std::function<Status(const ScannedRecord&)>& on_record,
    SegmentEnd* end) {
  uint64_t offset = 0;
  for (;;) {
    ScannedRecord record;
    RecordState state;
    std::string problem;
    Status s = reader->read(offset, &record, &state, &problem);
    if (!s) return s;
    if (state == RecordState::kUnwritten) {
      *end = {SegmentEnd::Kind::kOpen, offset, {}};
      return Status::ok();
    }
    if (state == RecordState::kDamaged) {
      *end = {SegmentEnd::Kind::kDamaged, offset, std::move(problem)};
      return Status::ok();
    }
    if (record.header.type == RecordType::kSeal) {
      *end = {SegmentEnd::Kind::kSealed, offset, {}};
      return Status::ok();
    }
    s = on_record(record);
    if (!s) return s;
    offset += record.size;
  }
}

Status inspect_after_tail(SegmentReader* reader, uint64_t from,
                          TailInspection* out) {
  *out = {};
  uint64_t offset = from;
  while (offset < reader->file_size()) {
    std::string_view window;
    Status s = reader->view(offset, kWindowBytes, &window);
    if (!s) return s;
    if (std::all_of(window.begin(), window.end(),
                    [](char c) { return c == 0; })) {
      offset += window.size();
      continue;
    }
    out->all_zero = false;
    // Look only at aligned offsets past `from` whose header marker is set
    // before decoding anything.
    uint64_t candidate = offset == from ? from + kAlignment : offset;
    while (candidate - offset + kHeaderSize <= window.size() &&
           static_cast<uint8_t>(window[candidate - offset + 23]) != kMarker) {
      candidate += kAlignment;
    }
    if (candidate - offset + kHeaderSize > window.size()) {
      if (window.size() < kHeaderSize) break;
      offset = candidate;
      continue;
    }
    ScannedRecord record;
    RecordState state;
    std::string problem;
    s = reader->read(candidate, &record, &state, &problem);
    if (!s) return s;
    if (state == RecordState::kValid && record.header.durable_end > from) {
      out->proof_offset = candidate;
      return Status::ok();
    }
    offset = candidate + kAlignment;
  }
  return Status::ok();
}

}  // namespace dengine::storage::wal
