#include "net/address.h"

#include <charconv>

namespace dengine::net {

std::string parse_address(std::string_view text, bool allow_any_port,
                          HostPort* out) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (text.size() > kMaxAddressBytes) {
    return "address " + quoted + " is longer than " +
           std::to_string(kMaxAddressBytes) + " bytes";
  }
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return "bad address " + quoted + ": expected [ipv6]:port";
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return "bad address " + quoted + ": expected host:port";
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "bad address " + quoted +
             ": an IPv6 address needs brackets, as in [::1]:7001";
    }
  }
  if (host.empty()) return "bad address " + quoted + ": empty host";
  unsigned value = 0;
  const auto [end, ec] =
      std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value > 65535 || (value == 0 && !allow_any_port)) {
    return "bad address " + quoted + ": port must be 1-65535" +
           (allow_any_port ? " (or 0 for any)" : "");
  }
  out->host = std::string(host);
  out->port = static_cast<uint16_t>(value);
  return "";
}

std::vector<std::string> split_address_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

}  // namespace dengine::net
