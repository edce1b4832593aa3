#include "dengined/config.h"

#include <utility>

#include "net/address.h"

namespace dengine::server {
namespace {

constexpr std::string_view kEnvPrefix = "DENGINE_";

// What only a server requires of the options the file and variables set.
std::string check_server(const node::NodeOptions& options,
                         const node::TomlSettings& settings,
                         std::string_view source) {
  auto at = [&](std::string_view key) {
    const auto it = settings.origins.find(key);
    return (it == settings.origins.end() ? std::string(source) : it->second) +
           ": " + std::string(key) + ": ";
  };
  // Peers and clients dial these: a port picked at random would do them no
  // good.
  const std::string metrics_address = settings.metrics_address.value_or("");
  const std::pair<std::string_view, const std::string*> addresses[] = {
      {"node.peer_address", &options.listen_address},
      {"node.client_address", &options.client_address},
      {"node.metrics_address", &metrics_address},
  };
  for (const auto& [key, address] : addresses) {
    net::HostPort parsed;
    if (!settings.origins.contains(key)) continue;
    std::string problem =
        net::parse_address(*address, /*allow_any_port=*/false, &parsed);
    if (!problem.empty()) return at(key) + problem;
  }
  for (std::string_view key : {"node.id", "node.data_dir", "node.peer_address",
                               "node.client_address"}) {
    if (!settings.origins.contains(key)) {
      return std::string(source) + ": " + std::string(key) +
             ": missing; set it in [node] or with " +
             node::env_variable(kEnvPrefix, key);
    }
  }
  return "";
}

}  // namespace

Environment process_environment() {
  return node::process_environment(kEnvPrefix);
}

bool load_config(const std::string& path, const Environment& env,
                 ServerConfig* out, std::string* error) {
  std::string text;
  if (std::string e = node::read_text_file(path, &text); !e.empty()) {
    *error = std::move(e);
    return false;
  }
  return parse_config(text, path, env, out, error);
}

bool parse_config(std::string_view toml_text, std::string_view source_name,
                  const Environment& env, ServerConfig* out,
                  std::string* error) {
  ServerConfig config;
  config.source = std::string(source_name);
  node::TomlSettings settings;
  std::string problem = node::apply_toml(toml_text, source_name, env,
                                         kEnvPrefix, &config.node, &settings);
  if (problem.empty()) {
    problem = check_server(config.node, settings, source_name);
  }
  if (problem.empty()) {
    problem = node::validate_at(config.node, settings, source_name);
  }
  if (!problem.empty()) {
    *error = std::move(problem);
    return false;
  }
  config.log_level = settings.log_level.value_or(DENGINE_LOG_INFO);
  config.metrics_address = settings.metrics_address.value_or("");
  *out = std::move(config);
  return true;
}

}  // namespace dengine::server
