#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace dengine::base {
namespace {

TEST(Crc32c, PublishedCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c_extend_portable(0, "123456789"), 0xE3069283u);
}

// The vectors of RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32c, Rfc3720Vectors) {
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32c, EmptyIsZero) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c_extend(0x1234, ""), 0x1234u);
}

TEST(Crc32c, ExtendingInPiecesEqualsTheWhole) {
  const std::string data = "the quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    const uint32_t head = crc32c(std::string_view(data).substr(0, cut));
    EXPECT_EQ(crc32c_extend(head, std::string_view(data).substr(cut)),
              crc32c(data))
        << "cut at " << cut;
  }
}

TEST(Crc32c, HardwareAndTableAgreeOnEveryLengthAndAlignment) {
  std::string data(300, '\0');
  uint32_t x = 12345;
  for (char& c : data) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  for (size_t start = 0; start < 9; ++start) {
    for (size_t length = 0; start + length <= data.size(); length += 7) {
      const std::string_view piece =
          std::string_view(data).substr(start, length);
      EXPECT_EQ(crc32c(piece), crc32c_extend_portable(0, piece))
          << "start " << start << " length " << length;
    }
  }
}

}  // namespace
}  // namespace dengine::base
