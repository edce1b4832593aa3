#include "net/frame.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "base/byte_codec.h"
#include "base/crc32c.h"

namespace dengine::net {
namespace {

// A header with a valid header CRC but any field values, to reach the checks
// that follow the CRC.
std::string header(uint16_t magic, uint8_t version, uint8_t type,
                   uint32_t size) {
  std::string out;
  base::append_fixed(&out, magic, 2);
  base::append_fixed(&out, version, 1);
  base::append_fixed(&out, type, 1);
  base::append_fixed(&out, size, 4);
  base::append_fixed(&out, 0, 4);
  base::append_fixed(&out, base::crc32c(out), 4);
  return out;
}

std::vector<Frame> sample_frames() {
  return {
      {FrameType::kHello, std::string(16, 'h')},
      {FrameType::kRaftMessage, ""},
      {FrameType::kRaftMessage, std::string("a\0b\xff", 4)},
      {FrameType::kSnapshotChunk, std::string(5000, 's')},
      {FrameType::kClientRequest, "req"},
      {FrameType::kClientResponse, "resp"},
  };
}

std::string encode_all(const std::vector<Frame>& frames) {
  std::string out;
  for (const Frame& f : frames) append_frame(&out, f.type, f.payload);
  return out;
}

std::vector<Frame> pop_all(FrameDecoder* decoder) {
  std::vector<Frame> out;
  while (auto frame = decoder->pop()) out.push_back(std::move(*frame));
  return out;
}

TEST(Frame, HeaderIsSixteenBytesBeforeThePayload) {
  const std::string bytes = encode_frame(FrameType::kHello, "xyz");
  ASSERT_EQ(bytes.size(), kFrameHeaderSize + 3);
  EXPECT_EQ(base::decode_fixed(bytes.data(), 2), kFrameMagic);
  EXPECT_EQ(bytes[2], kFrameVersion);
  EXPECT_EQ(bytes[3], static_cast<char>(FrameType::kHello));
  EXPECT_EQ(base::decode_fixed(bytes.data() + 4, 4), 3u);
  EXPECT_EQ(base::decode_fixed(bytes.data() + 8, 4), base::crc32c("xyz"));
  EXPECT_EQ(base::decode_fixed(bytes.data() + 12, 4),
            base::crc32c(std::string_view(bytes).substr(0, 12)));
  EXPECT_EQ(bytes.substr(16), "xyz");
}

TEST(FrameDecoder, DecodesConsecutiveFramesFedAtOnce) {
  FrameDecoder decoder;
  EXPECT_TRUE(decoder.feed(encode_all(sample_frames())));
  EXPECT_EQ(pop_all(&decoder), sample_frames());
  EXPECT_EQ(decoder.buffered(), 0u);
  EXPECT_FALSE(decoder.pop());
}

TEST(FrameDecoder, DecodesAStreamFedByteByByte) {
  const std::string stream = encode_all(sample_frames());
  FrameDecoder decoder;
  std::vector<Frame> got;
  for (char c : stream) {
    ASSERT_TRUE(decoder.feed(std::string_view(&c, 1)));
    for (Frame& f : pop_all(&decoder)) got.push_back(std::move(f));
  }
  EXPECT_EQ(got, sample_frames());
}

TEST(FrameDecoder, DecodesAStreamCutAtRandomPoints) {
  const std::string stream = encode_all(sample_frames());
  std::mt19937 rng(5);
  for (int round = 0; round < 200; ++round) {
    FrameDecoder decoder;
    size_t pos = 0;
    while (pos < stream.size()) {
      const size_t n = std::uniform_int_distribution<size_t>(
          0, std::min<size_t>(stream.size() - pos, 64))(rng);
      ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(pos, n)));
      pos += n;
    }
    EXPECT_EQ(pop_all(&decoder), sample_frames()) << "round " << round;
  }
}

TEST(FrameDecoder, EveryTruncationWaitsForMoreWithoutError) {
  const std::string frame = encode_frame(FrameType::kRaftMessage, "payload");
  for (size_t n = 0; n < frame.size(); ++n) {
    FrameDecoder decoder;
    EXPECT_TRUE(decoder.feed(frame.substr(0, n)));
    EXPECT_FALSE(decoder.pop()) << n;
    EXPECT_EQ(decoder.buffered(), n);
    // The rest completes it.
    EXPECT_TRUE(decoder.feed(frame.substr(n)));
    EXPECT_EQ(decoder.pop(), (Frame{FrameType::kRaftMessage, "payload"}));
  }
}

TEST(FrameDecoder, EverySingleBitFlipIsDetected) {
  const std::string frame = encode_frame(FrameType::kRaftMessage, "payload!");
  for (size_t bit = 0; bit < frame.size() * 8; ++bit) {
    std::string bad = frame;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    FrameDecoder decoder;
    EXPECT_FALSE(decoder.feed(bad)) << "bit " << bit;
    EXPECT_FALSE(decoder.pop()) << "bit " << bit;
    const size_t byte = bit / 8;
    const char* expected = byte < 2    ? "magic"
                           : byte < 3  ? "version"
                           : byte < 16 ? "header checksum"
                                       : "payload checksum";
    EXPECT_NE(decoder.error().find(expected), std::string::npos)
        << "bit " << bit << ": " << decoder.error();
  }
}

TEST(FrameDecoder, RejectsOversizeLengthBeforeBufferingThePayload) {
  FrameDecoder decoder;
  EXPECT_FALSE(decoder.feed(header(kFrameMagic, kFrameVersion, 1, 1u << 30) +
                            std::string(1000, 'x')));
  EXPECT_EQ(decoder.error(),
            "frame payload of 1073741824 bytes exceeds the limit of 67108864");
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(FrameDecoder, LimitIsConfigurableAndInclusive) {
  FrameDecoder decoder(/*max_payload=*/8);
  EXPECT_TRUE(decoder.feed(encode_frame(FrameType::kHello, "12345678")));
  EXPECT_EQ(decoder.pop()->payload, "12345678");
  EXPECT_FALSE(decoder.feed(header(kFrameMagic, kFrameVersion, 5, 9)));
  EXPECT_NE(decoder.error().find("exceeds the limit of 8"), std::string::npos);
}

TEST(FrameDecoder, NamesWhatIsWrongWithTheHeader) {
  struct Case {
    std::string bytes;
    std::string error;
  };
  const std::vector<Case> cases = {
      {header(0x4745, kFrameVersion, 1, 0),
       "bad frame magic 18245 (not a dengine peer)"},
      {header(kFrameMagic, 2, 1, 0),
       "unsupported frame format version 2 (this node speaks 1)"},
      {header(kFrameMagic, kFrameVersion, 0, 0), "unknown frame type 0"},
      {header(kFrameMagic, kFrameVersion, 6, 0), "unknown frame type 6"},
  };
  for (const Case& c : cases) {
    FrameDecoder decoder;
    EXPECT_FALSE(decoder.feed(c.bytes));
    EXPECT_EQ(decoder.error(), c.error);
  }
}

TEST(FrameDecoder, StaysFailedAfterAnErrorButKeepsEarlierFrames) {
  std::string bad = encode_frame(FrameType::kHello, "late");
  bad[0] ^= 1;
  FrameDecoder decoder;
  EXPECT_FALSE(decoder.feed(encode_frame(FrameType::kHello, "early") + bad));
  EXPECT_FALSE(decoder.feed(encode_frame(FrameType::kHello, "after")));
  EXPECT_TRUE(decoder.failed());
  EXPECT_EQ(pop_all(&decoder),
            (std::vector<Frame>{{FrameType::kHello, "early"}}));
}

}  // namespace
}  // namespace dengine::net
