#include "storage/wal_record.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "base/crc32c.h"

namespace dengine::storage::wal {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the WAL format is little-endian");

void put_u32(char* at, uint32_t value) {
  std::memcpy(at, &value, sizeof(value));
}
void put_u64(char* at, uint64_t value) {
  std::memcpy(at, &value, sizeof(value));
}
uint32_t get_u32(const char* at) {
  uint32_t value;
  std::memcpy(&value, at, sizeof(value));
  return value;
}
uint64_t get_u64(const char* at) {
  uint64_t value;
  std::memcpy(&value, at, sizeof(value));
  return value;
}

// A marker byte holding at most one set bit was never written: zero, or zero
// with one flipped bit.
bool marker_unwritten(char byte) {
  return std::popcount(static_cast<uint8_t>(byte)) <= 1;
}

}  // namespace

void encode_record(RecordType type, std::string_view payload,
                   uint32_t durable_end, std::string* out) {
  const size_t start = out->size();
  out->resize(start + record_size(payload.size()), '\0');
  char* record = out->data() + start;
  put_u32(record + 4, static_cast<uint32_t>(payload.size()));
  put_u32(record + 8, base::crc32c(payload));
  put_u32(record + 12, durable_end);
  record[16] = static_cast<char>(type);
  record[23] = static_cast<char>(kMarker);
  put_u32(record, base::crc32c(std::string_view(record + 4, kHeaderSize - 4)));
  std::copy(payload.begin(), payload.end(), record + kHeaderSize);
  out->back() = static_cast<char>(kMarker);
}

RecordState decode_header(std::string_view bytes, RecordHeader* header,
                          std::string* problem) {
  if (bytes.size() < kHeaderSize || marker_unwritten(bytes[23])) {
    return RecordState::kUnwritten;
  }
  const char* h = bytes.data();
  if (static_cast<uint8_t>(h[23]) != kMarker) {
    *problem = "bad header marker";
    return RecordState::kDamaged;
  }
  if (get_u32(h) != base::crc32c(std::string_view(h + 4, kHeaderSize - 4))) {
    *problem = "bad header checksum";
    return RecordState::kDamaged;
  }
  header->payload_size = get_u32(h + 4);
  header->payload_crc = get_u32(h + 8);
  header->durable_end = get_u32(h + 12);
  const uint8_t type = static_cast<uint8_t>(h[16]);
  if (type < static_cast<uint8_t>(RecordType::kEntry) ||
      type > static_cast<uint8_t>(RecordType::kSeal)) {
    *problem = "unknown record type " + std::to_string(type);
    return RecordState::kDamaged;
  }
  header->type = static_cast<RecordType>(type);
  if (header->payload_size > kMaxPayload) {
    *problem = "record length " + std::to_string(header->payload_size) +
               " over the limit";
    return RecordState::kDamaged;
  }
  return RecordState::kValid;
}

RecordState check_record(const RecordHeader& header, std::string_view bytes,
                         std::string* problem) {
  const uint64_t size = record_size(header.payload_size);
  if (bytes.size() < size || marker_unwritten(bytes[size - 1])) {
    return RecordState::kUnwritten;
  }
  if (static_cast<uint8_t>(bytes[size - 1]) != kMarker) {
    *problem = "bad record trailer";
    return RecordState::kDamaged;
  }
  if (base::crc32c(bytes.substr(kHeaderSize, header.payload_size)) !=
      header.payload_crc) {
    *problem = "bad payload checksum";
    return RecordState::kDamaged;
  }
  return RecordState::kValid;
}

std::string encode_entry_payload(const raft::Entry& entry) {
  std::string payload(kEntryPayloadHeader + entry.data.size(), '\0');
  put_u64(payload.data(), entry.index);
  put_u64(payload.data() + 8, entry.term);
  payload[16] = static_cast<char>(entry.type);
  std::memcpy(payload.data() + kEntryPayloadHeader, entry.data.data(),
              entry.data.size());
  return payload;
}

bool peek_entry_payload(std::string_view payload, raft::Index* index,
                        raft::Term* term) {
  if (payload.size() < kEntryPayloadHeader) return false;
  *index = get_u64(payload.data());
  *term = get_u64(payload.data() + 8);
  return static_cast<uint8_t>(payload[16]) <=
         static_cast<uint8_t>(raft::EntryType::kConfChange);
}

bool decode_entry_payload(std::string_view payload, raft::Entry* entry) {
  if (!peek_entry_payload(payload, &entry->index, &entry->term)) return false;
  entry->type = static_cast<raft::EntryType>(payload[16]);
  entry->data.assign(payload.substr(kEntryPayloadHeader));
  return true;
}

std::string encode_index_payload(raft::Index index) {
  std::string payload(8, '\0');
  put_u64(payload.data(), index);
  return payload;
}

bool decode_index_payload(std::string_view payload, raft::Index* index) {
  if (payload.size() != 8) return false;
  *index = get_u64(payload.data());
  return true;
}

}  // namespace dengine::storage::wal
