#include "client/endpoint.h"

#include <charconv>

namespace dengine::client {

std::string parse_endpoint(std::string_view text, Endpoint* out) {
  const std::string quoted = "endpoint \"" + std::string(text) + "\"";
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return quoted + ": no \":port\"";
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return quoted + ": an IPv6 address needs brackets, as in [::1]:7001";
  }
  if (host.empty()) return quoted + ": empty host";
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(
      port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() ||
      port == 0 || port > 65535) {
    return quoted + ": port must be a number from 1 to 65535";
  }
  out->host.assign(host);
  out->port = static_cast<uint16_t>(port);
  return "";
}

}  // namespace dengine::client
