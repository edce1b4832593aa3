#include "net/address.h"

#include <gtest/gtest.h>

namespace dengine::net {
namespace {

bool operator==(const HostPort& a, const HostPort& b) {
  return a.host == b.host && a.port == b.port;
}

TEST(Address, ParsesHostsAndPorts) {
  HostPort a;
  ASSERT_EQ(parse_address("127.0.0.1:7001", false, &a), "");
  EXPECT_TRUE(a == (HostPort{"127.0.0.1", 7001}));
  ASSERT_EQ(parse_address("node-1.example:65535", false, &a), "");
  EXPECT_TRUE(a == (HostPort{"node-1.example", 65535}));
  ASSERT_EQ(parse_address("[::1]:9", false, &a), "");
  EXPECT_TRUE(a == (HostPort{"::1", 9}));
  ASSERT_EQ(parse_address("127.0.0.1:0", true, &a), "");
  EXPECT_EQ(a.port, 0);
}

TEST(Address, SaysWhatIsWrong) {
  HostPort a{"kept", 1};
  EXPECT_EQ(parse_address("host", false, &a),
            "bad address \"host\": expected host:port");
  EXPECT_EQ(parse_address(":7001", false, &a),
            "bad address \":7001\": empty host");
  EXPECT_EQ(parse_address("[]:7001", false, &a),
            "bad address \"[]:7001\": empty host");
  EXPECT_EQ(parse_address("[::1]7001", false, &a),
            "bad address \"[::1]7001\": expected [ipv6]:port");
  EXPECT_EQ(parse_address("::1:7001", false, &a),
            "bad address \"::1:7001\": an IPv6 address needs brackets, as in "
            "[::1]:7001");
  for (const char* bad : {"h:0", "h:65536", "h:", "h:12x", "h:-1"}) {
    EXPECT_EQ(parse_address(bad, false, &a),
              "bad address \"" + std::string(bad) + "\": port must be 1-65535");
  }
  EXPECT_EQ(parse_address("h:65536", true, &a),
            "bad address \"h:65536\": port must be 1-65535 (or 0 for any)");
  EXPECT_TRUE(a == (HostPort{"kept", 1}));
}

}  // namespace
}  // namespace dengine::net
