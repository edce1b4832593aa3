// Segment files of the write-ahead log: their names and how they are read
// back on open.
//
// A segment is named wal-<sequence as 16 hex digits>.log. Segments are
// preallocated (zero-filled) and filled front to back with records
// (wal_record.h); a full segment ends with a seal record and is synced before
// the next one is written, so only the last segment holding records can end
// in a torn write.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "storage/file_system.h"
#include "storage/status.h"
#include "storage/wal_record.h"

namespace dengine::storage::wal {

std::string segment_file_name(uint64_t sequence);
bool parse_segment_file_name(std::string_view name, uint64_t* sequence);

// A valid record read from a segment. `payload` stays valid until the reader
// moves on.
struct ScannedRecord {
  uint64_t offset = 0;
  uint64_t size = 0;
  RecordHeader header;
  std::string_view payload;
};

// Reads records through a window of a few MiB, so scanning a segment never
// holds all of it in memory.
class SegmentReader {
 public:
  SegmentReader(const File* file, std::string path);

  // Reads the record at `offset`. On kValid fills *record; on kDamaged fills
  // *problem. Errors only for I/O failures.
  Status read(uint64_t offset, ScannedRecord* record, RecordState* state,
              std::string* problem);
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }
  // Points *out at up to n bytes from offset (fewer at the end of the file),
  // valid until the next call.
  Status view(uint64_t offset, uint64_t n, std::string_view* out);

 private:
  const File* file_;
  std::string path_;
  uint64_t file_size_;
  uint64_t window_offset_ = 0;
  std::string window_;
};

// Where a front-to-back scan of a segment stopped.
struct SegmentEnd {
  enum class Kind : uint8_t {
    kSealed,   // at a seal record (offset = the seal's offset)
    kOpen,     // at a record never completely written: the written area ends
    kDamaged,  // at a completely written record that fails its checks
  };
  Kind kind = Kind::kOpen;
  uint64_t offset = 0;
  std::string problem;
};

// Calls on_record for every valid record other than a seal, in order, until
// the scan stops; an error from on_record stops the scan and is returned.
Status scan_segment(
    SegmentReader* reader,
    const std::function<Status(const ScannedRecord&)>& on_record,
    SegmentEnd* end);

// What lies after the place where the written area of the last segment ends.
struct TailInspection {
  // Every byte from there on is zero: nothing to cut.
  bool all_zero = true;
  // A valid record at an aligned offset after it whose durable end lies past
  // it: proof that those bytes had been synced, so whatever is wrong there is
  // damage rather than a torn unsynced write.
  std::optional<uint64_t> proof_offset;
};

Status inspect_after_tail(SegmentReader* reader, uint64_t from,
                          TailInspection* out);

}  // namespace dengine::storage::wal
