#include "net/message_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "base/byte_codec.h"
#include "sample_messages.h"

namespace dengine::net {
namespace {

using raft::Message;
using raft::MessageType;

// Byte offsets in an encoded message (docs/architecture.md, "Wire format").
constexpr size_t kFlagsOffset = 1;
constexpr size_t kContextOffset = 2 + 8 * 8;
constexpr size_t kFixedPartSize = kContextOffset + 4;  // up to entry count

Message decode_ok(const std::string& payload) {
  Message m;
  const std::string error = decode_message(payload, &m);
  EXPECT_EQ(error, "");
  return m;
}

std::string decode_error(const std::string& payload) {
  Message m;
  m.term = 99;
  std::string error = decode_message(payload, &m);
  EXPECT_EQ(m.term, 99u) << "a failed decode must not touch *out";
  return error;
}

// A minimal message with no context and no entries, then `tail`.
std::string bare_with_tail(uint8_t flags, const std::string& tail) {
  std::string out(2 + 8 * 8, '\0');
  out[kFlagsOffset] = static_cast<char>(flags);
  base::append_fixed(&out, 0, 4);  // context length
  return out + tail;
}

std::string u32(uint32_t v) {
  std::string out;
  base::append_fixed(&out, v, 4);
  return out;
}

std::string u64(uint64_t v) {
  std::string out;
  base::append_fixed(&out, v, 8);
  return out;
}

TEST(MessageCodec, RoundTripsEveryMessageTypeWithEveryFieldSet) {
  for (const Message& m : testing::all_full_messages()) {
    const std::string payload = encode_message(m);
    EXPECT_EQ(decode_ok(payload), m) << raft::to_string(m.type);
    EXPECT_EQ(encode_message(decode_ok(payload)), payload);
  }
}

TEST(MessageCodec, RoundTripsEmptyAndPartialMessages) {
  Message bare;
  EXPECT_EQ(encode_message(bare).size(), kFixedPartSize + 4);
  EXPECT_EQ(decode_ok(encode_message(bare)), bare);

  Message empty_snapshot = bare;
  empty_snapshot.snapshot.emplace();
  EXPECT_EQ(decode_ok(encode_message(empty_snapshot)), empty_snapshot);

  Message flags_only = bare;
  flags_only.transfer = true;
  EXPECT_EQ(decode_ok(encode_message(flags_only)), flags_only);
}

TEST(MessageCodec, RejectsEveryTruncation) {
  const std::string payload =
      encode_message(testing::full_message(MessageType::kInstallSnapshot));
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_NE(decode_error(payload.substr(0, n)), "") << n;
  }
}

TEST(MessageCodec, RejectsTrailingBytes) {
  const std::string payload =
      encode_message(testing::full_message(MessageType::kAppend));
  EXPECT_EQ(decode_error(payload + "zz"), "raft message: 2 trailing bytes");
}

TEST(MessageCodec, RejectsUnknownEnumValuesAndFlags) {
  std::string payload = encode_message(Message{});
  payload[0] = 12;
  EXPECT_EQ(decode_error(payload), "raft message: unknown message type 12");

  payload = bare_with_tail(8, u32(0));
  EXPECT_EQ(decode_error(payload), "raft message: unknown flags 8");

  payload = bare_with_tail(
      0, u32(1) + std::string(1, '\3') + u64(1) + u64(1) + u32(0));
  EXPECT_EQ(decode_error(payload), "raft message: unknown entry type 3");
}

TEST(MessageCodec, RejectsCountsBeyondTheBytesPresent) {
  // Four bytes claiming four billion entries must not allocate them.
  EXPECT_EQ(decode_error(bare_with_tail(0, u32(0xFFFFFFFF))),
            "raft message: entry count 4294967295 exceeds the remaining bytes");
  // One entry's worth of bytes, minus one.
  EXPECT_EQ(decode_error(bare_with_tail(0, u32(1) + std::string(20, '\0'))),
            "raft message: entry count 1 exceeds the remaining bytes");
  EXPECT_EQ(
      decode_error(bare_with_tail(4, u32(0) + u64(1) + u64(1) + u32(1u << 30))),
      "raft message: snapshot voters count 1073741824 exceeds the remaining "
      "bytes");
  // A length prefix longer than the input.
  std::string payload = encode_message(Message{});
  payload.replace(kContextOffset, 4, u32(1000));
  EXPECT_EQ(decode_error(payload), "raft message: fields truncated");
}

TEST(MessageCodec, RejectsAnInvalidSnapshotMembership) {
  Message m = testing::full_message(MessageType::kInstallSnapshot);
  m.snapshot->meta.conf = {{1, 2}, {2}};
  EXPECT_EQ(decode_error(encode_message(m)),
            "raft message: snapshot membership lists node 2 twice");
  m.snapshot->meta.conf = {{1, 3, 1}, {}};
  EXPECT_EQ(decode_error(encode_message(m)),
            "raft message: snapshot membership lists node 1 twice");
  m.snapshot->meta.conf = {{1}, {0}};
  EXPECT_EQ(decode_error(encode_message(m)),
            "raft message: snapshot learners include node id 0");
}

}  // namespace
}  // namespace dengine::net
