// Network addresses as configurations, membership changes and clients
// write them: "host:port", where host is a name or an IPv4 address, or
// "[v6]:port". The one parser every layer uses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dengine::net {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// The longest address accepted, in bytes: what the fixed address fields of
// the C API's dengine_status and dengine_member hold, so none is ever cut.
constexpr size_t kMaxAddressBytes = 127;

// Returns an empty string and sets *out, or says what is wrong with `text`.
// Port 0 is accepted only when `allow_any_port` (a listen address). Longer
// than kMaxAddressBytes is wrong.
std::string parse_address(std::string_view text, bool allow_any_port,
                          HostPort* out);

// The non-empty items of a comma-separated list ("a:1,b:2"), in order.
std::vector<std::string> split_address_list(std::string_view text);

}  // namespace dengine::net
