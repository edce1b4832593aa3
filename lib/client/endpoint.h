// A server address as users write it: "host:port", where host is a name, an
// IPv4 address or a bracketed IPv6 address ("[::1]:7001").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dengine::client {

struct Endpoint {
  std::string host;  // without brackets
  uint16_t port = 0;

  bool operator==(const Endpoint&) const = default;
};

// Returns an empty string and sets *out, or says what is wrong with `text`.
std::string parse_endpoint(std::string_view text, Endpoint* out);

}  // namespace dengine::client
