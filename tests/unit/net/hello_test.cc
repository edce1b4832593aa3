#include "net/hello.h"

#include <gtest/gtest.h>

#include <string>

namespace dengine::net {
namespace {

TEST(Hello, RoundTrips) {
  const Hello hello{3, 0xC1A55E7700000001ull};
  const std::string payload = encode_hello(hello);
  EXPECT_EQ(payload.size(), 16u);
  Hello got;
  EXPECT_EQ(decode_hello(payload, &got), "");
  EXPECT_EQ(got, hello);
}

TEST(Hello, RejectsMalformedPayloads) {
  const std::string payload = encode_hello({3, 9});
  Hello got{5, 5};
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_EQ(decode_hello(payload.substr(0, n), &got), "hello: truncated");
  }
  EXPECT_EQ(decode_hello(payload + "x", &got), "hello: trailing bytes");
  EXPECT_EQ(decode_hello(encode_hello({0, 9}), &got), "hello: node id 0");
  EXPECT_EQ(got, (Hello{5, 5}));
}

}  // namespace
}  // namespace dengine::net
