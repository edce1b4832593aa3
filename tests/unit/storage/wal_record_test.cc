#include "storage/wal_record.h"

#include <gtest/gtest.h>

#include <string>

namespace dengine::storage::wal {
namespace {

std::string one_record(RecordType type, const std::string& payload,
                       uint32_t durable_end = 0) {
  std::string out;
  encode_record(type, payload, durable_end, &out);
  return out;
}

RecordState classify(const std::string& bytes, std::string* problem) {
  RecordHeader header;
  RecordState state = decode_header(bytes, &header, problem);
  if (state != RecordState::kValid) return state;
  return check_record(header, bytes, problem);
}

TEST(WalRecord, SizesAreAlignedAndHoldHeaderPayloadAndTrailer) {
  EXPECT_EQ(record_size(0), 32u);
  EXPECT_EQ(record_size(7), 32u);
  EXPECT_EQ(record_size(8), 40u);
  for (uint64_t n = 0; n < 100; ++n) {
    EXPECT_EQ(record_size(n) % kAlignment, 0u);
    EXPECT_GE(record_size(n), kHeaderSize + n + 1);
    EXPECT_LT(record_size(n), kHeaderSize + n + 1 + kAlignment);
  }
}

TEST(WalRecord, RoundTrip) {
  const std::string bytes = one_record(RecordType::kTruncate, "payload!", 96);
  ASSERT_EQ(bytes.size(), record_size(8));
  RecordHeader header;
  std::string problem;
  ASSERT_EQ(decode_header(bytes, &header, &problem), RecordState::kValid);
  EXPECT_EQ(header.type, RecordType::kTruncate);
  EXPECT_EQ(header.payload_size, 8u);
  EXPECT_EQ(header.durable_end, 96u);
  EXPECT_EQ(check_record(header, bytes, &problem), RecordState::kValid);
  EXPECT_EQ(bytes.substr(kHeaderSize, 8), "payload!");
}

TEST(WalRecord, ZerosAreUnwritten) {
  std::string problem;
  EXPECT_EQ(classify(std::string(64, '\0'), &problem), RecordState::kUnwritten);
  EXPECT_EQ(classify("", &problem), RecordState::kUnwritten);
}

// A write cut at any byte, with the rest still zero as in preallocated
// space, reads as unwritten: never as damage, never as valid.
TEST(WalRecord, EveryTornPrefixIsUnwritten) {
  const std::string bytes = one_record(RecordType::kEntry, "0123456789abc");
  for (size_t kept = 0; kept < bytes.size(); ++kept) {
    std::string torn = bytes.substr(0, kept);
    torn.resize(bytes.size() + 64, '\0');
    std::string problem;
    EXPECT_EQ(classify(torn, &problem), RecordState::kUnwritten)
        << "kept " << kept << " bytes";
  }
}

// The file ending inside a record is a torn write too.
TEST(WalRecord, EveryTruncatedPrefixIsUnwritten) {
  const std::string bytes = one_record(RecordType::kEntry, "0123456789abc");
  for (size_t kept = 0; kept < bytes.size(); ++kept) {
    std::string problem;
    EXPECT_EQ(classify(bytes.substr(0, kept), &problem),
              RecordState::kUnwritten)
        << "kept " << kept << " bytes";
  }
}

// A single flipped bit in a written record is damage, never mistaken for a
// torn write; only a flip in the zero padding goes unnoticed (and changes
// nothing that is read).
TEST(WalRecord, EverySingleBitFlipIsDamageOrHarmlessPadding) {
  const std::string payload = "0123456789abc";  // 3 bytes of padding
  const std::string bytes = one_record(RecordType::kEntry, payload);
  const size_t padding_begin = kHeaderSize + payload.size();
  const size_t padding_end = bytes.size() - 1;
  for (size_t byte = 0; byte < bytes.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      std::string problem;
      const RecordState state = classify(flipped, &problem);
      if (byte >= padding_begin && byte < padding_end) {
        EXPECT_EQ(state, RecordState::kValid) << "byte " << byte;
      } else {
        EXPECT_EQ(state, RecordState::kDamaged)
            << "byte " << byte << " bit " << bit;
        EXPECT_FALSE(problem.empty());
      }
    }
  }
}

TEST(WalRecord, EntryPayloadRoundTrip) {
  raft::Entry entry{7, 42, raft::EntryType::kConfChange,
                    std::string("a\0b", 3)};
  const std::string payload = encode_entry_payload(entry);
  raft::Entry back;
  ASSERT_TRUE(decode_entry_payload(payload, &back));
  EXPECT_EQ(back, entry);
  raft::Index index;
  raft::Term term;
  ASSERT_TRUE(peek_entry_payload(payload, &index, &term));
  EXPECT_EQ(index, 42u);
  EXPECT_EQ(term, 7u);
}

TEST(WalRecord, MalformedPayloadsAreRefused) {
  raft::Entry entry;
  EXPECT_FALSE(decode_entry_payload("short", &entry));
  std::string payload =
      encode_entry_payload({1, 1, raft::EntryType::kNormal, ""});
  payload[16] = 9;  // no such entry type
  EXPECT_FALSE(decode_entry_payload(payload, &entry));
  raft::Index index;
  EXPECT_FALSE(decode_index_payload("1234567", &index));
  ASSERT_TRUE(decode_index_payload(encode_index_payload(99), &index));
  EXPECT_EQ(index, 99u);
}

}  // namespace
}  // namespace dengine::storage::wal
