// The on-disk record of the write-ahead log.
//
// A record is 8-byte aligned and laid out as
//
//   offset  size  field
//   0       4     header checksum: CRC32C of bytes [4, 24)
//   4       4     payload length
//   8       4     payload checksum: CRC32C of the payload
//   12      4     durable end: bytes of this segment that a completed sync
//                 covered when the record was written
//   16      1     record type
//   17      6     zero
//   23      1     kMarker
//   24      n     payload
//   ...           zero padding
//   size-1  1     kMarker (the trailer)
//
// Integers are little-endian. Segments are preallocated with zeros and never
// reused, and a write that is cut short leaves zeros where it stopped, so a
// record whose header marker or trailer is still zero was never completely
// written (an unwritten or torn tail). A single flipped bit cannot make a
// marker zero (kMarker has five bits set), so a complete record whose
// checksums fail is damage, never mistaken for a torn write.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace dengine::storage::wal {

inline constexpr uint64_t kHeaderSize = 24;
inline constexpr uint64_t kAlignment = 8;
inline constexpr uint8_t kMarker = 0xD5;
// Entries larger than this are refused; it keeps record sizes within 32 bits.
inline constexpr uint64_t kMaxPayload = uint64_t{1} << 30;

enum class RecordType : uint8_t {
  kEntry = 1,     // payload: index, term, entry type, data
  kTruncate = 2,  // payload: index; removes the entries from index on
  kSeal = 3,      // empty; the last record of a full segment
};

// Bytes of an entry payload before the entry's data: index, term, type.
inline constexpr uint64_t kEntryPayloadHeader = 17;

// Bytes a record with a payload of `payload_size` occupies on disk.
constexpr uint64_t record_size(uint64_t payload_size) {
  return (kHeaderSize + payload_size + 1 + kAlignment - 1) / kAlignment *
         kAlignment;
}

// Appends the encoded record to *out.
void encode_record(RecordType type, std::string_view payload,
                   uint32_t durable_end, std::string* out);

enum class RecordState : uint8_t {
  kValid,
  kUnwritten,  // a marker is still zero, or the file ends inside the record
  kDamaged,    // completely written but a checksum or field is wrong
};

struct RecordHeader {
  uint32_t payload_size = 0;
  uint32_t payload_crc = 0;
  uint32_t durable_end = 0;
  RecordType type = RecordType::kEntry;
};

// Classifies the header in `bytes` (fewer than kHeaderSize bytes means the
// file ends inside it). On kDamaged, *problem says what is wrong.
RecordState decode_header(std::string_view bytes, RecordHeader* header,
                          std::string* problem);

// Classifies the whole record (header included) given `bytes`, which hold
// the record_size() bytes that follow the header's offset or, near the end
// of the file, fewer.
RecordState check_record(const RecordHeader& header, std::string_view bytes,
                         std::string* problem);

std::string encode_entry_payload(const raft::Entry& entry);
// False if the payload is not a well-formed entry.
bool decode_entry_payload(std::string_view payload, raft::Entry* entry);
// Only the index and term, without copying the data.
bool peek_entry_payload(std::string_view payload, raft::Index* index,
                        raft::Term* term);

std::string encode_index_payload(raft::Index index);
bool decode_index_payload(std::string_view payload, raft::Index* index);

}  // namespace dengine::storage::wal
