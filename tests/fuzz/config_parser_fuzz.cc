// dengined's configuration parser: never crashes on any file or variables,
// and every error names its place (the file or the variable).
//
// Input: the TOML text, then optionally a NUL byte and the environment as
// NAME=value lines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "dengined/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  dengine::server::Environment env;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      const size_t equals = line.find('=');
      if (equals != std::string_view::npos) {
        env[std::string(line.substr(0, equals))] =
            std::string(line.substr(equals + 1));
      }
      rest = end == std::string_view::npos ? "" : rest.substr(end + 1);
    }
  }
  dengine::server::ServerConfig config;
  std::string error;
  if (dengine::server::parse_config(text, "fuzz.toml", env, &config, &error)) {
    if (!config.node.validate().empty()) abort();
  } else if (!error.starts_with("fuzz.toml") &&
             !error.starts_with("environment variable DENGINE_")) {
    abort();
  }
  return 0;
}
