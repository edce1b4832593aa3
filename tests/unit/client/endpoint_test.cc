#include "client/endpoint.h"

#include <gtest/gtest.h>

namespace dengine::client {
namespace {

TEST(Endpoint, ParsesHostsAndPorts) {
  Endpoint e;
  ASSERT_EQ(parse_endpoint("127.0.0.1:7001", &e), "");
  EXPECT_EQ(e, (Endpoint{"127.0.0.1", 7001}));
  ASSERT_EQ(parse_endpoint("node-1.example:65535", &e), "");
  EXPECT_EQ(e, (Endpoint{"node-1.example", 65535}));
  ASSERT_EQ(parse_endpoint("[::1]:9", &e), "");
  EXPECT_EQ(e, (Endpoint{"::1", 9}));
}

TEST(Endpoint, SaysWhatIsWrong) {
  Endpoint e{"kept", 1};
  EXPECT_EQ(parse_endpoint("host", &e), "endpoint \"host\": no \":port\"");
  EXPECT_EQ(parse_endpoint(":7001", &e), "endpoint \":7001\": empty host");
  EXPECT_EQ(parse_endpoint("[]:7001", &e), "endpoint \"[]:7001\": empty host");
  EXPECT_EQ(parse_endpoint("::1:7001", &e),
            "endpoint \"::1:7001\": an IPv6 address needs brackets, as in "
            "[::1]:7001");
  for (const char* bad : {"h:0", "h:65536", "h:", "h:12x", "h:-1"}) {
    EXPECT_EQ(parse_endpoint(bad, &e),
              "endpoint \"" + std::string(bad) +
                  "\": port must be a number from 1 to 65535");
  }
  EXPECT_EQ(e, (Endpoint{"kept", 1}));
}

}  // namespace
}  // namespace dengine::client
