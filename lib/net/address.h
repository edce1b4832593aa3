// Network addresses as configurations, membership changes and clients
// write them: "host:port", where host is a name or an IPv4 address, or
// "[v6]:port". The one parser every layer uses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dengine::net {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// Returns an empty string and sets *out, or says what is wrong with `text`.
// Port 0 is accepted only when `allow_any_port` (a listen address).
std::string parse_address(std::string_view text, bool allow_any_port,
                          HostPort* out);

}  // namespace dengine::net
