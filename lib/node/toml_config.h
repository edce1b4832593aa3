// A node's TOML configuration (docs/operations.md): one file, then
// environment variables over it (<prefix><SECTION>_<KEY>), read into
// NodeOptions. The one loader behind dengine_config_load_toml, dengined and
// the Python and Go bindings.
//
// Nothing passes silently: an unknown section, key or variable is an error
// (with the nearest known name when one is close), as is a wrong type or a
// value a NodeOptions rule refuses. Every error names where it comes from
// ("file:line:column" or the variable) and the key.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "node/options.h"

namespace dengine::node {

// Environment variables by name.
using Environment = std::map<std::string, std::string, std::less<>>;

// The variables of this process whose names start with `prefix`. Reads
// environ: not safe against a concurrent setenv.
Environment process_environment(std::string_view prefix);

// What a configuration set besides the node's options.
struct TomlSettings {
  // [log] level, as DENGINE_LOG_*. Logging is the process's, not a node
  // option: whoever runs the node applies it (dengined does; the C API and
  // the bindings accept the key and leave logging alone).
  std::optional<int> log_level;
  // [node] metrics_address, "host:port": where dengined serves /metrics
  // and /healthz over HTTP. Not a node option either: the C API and the
  // bindings accept the key and serve nothing (dengine_node_metrics gives
  // an embedding application the same text to serve itself).
  std::optional<std::string> metrics_address;
  // Where each key was last set, by full name ("raft.tick_ms"):
  // "file:line:column" or "environment variable DENGINE_RAFT_TICK_MS".
  std::map<std::string, std::string, std::less<>> origins;
};

// Parses `text` (read from `source`, which messages name), then applies the
// variables of `env` named env_prefix + SECTION_KEY ("DENGINE_RAFT_TICK_MS";
// an empty env applies none). A variable that starts like a section's
// (env_prefix + "RAFT_") but names no key is an error; others are ignored.
// Each key found is set on *options (or *settings), checked as it is set;
// the keys not found keep the values *options had. Returns "" or what is
// wrong, and then leaves *options and *settings as they were, e.g.
//   node1.toml:2:6: node.id: expected an integer, got a string
//   environment variable DENGINE_RAFT_TICK_MS: raft.tick_ms: expected an
//   integer, got "fast"
// The rules across options are left to validate_at (or NodeOptions::check
// at start), since the caller may set more options after this.
std::string apply_toml(std::string_view text, std::string_view source,
                       const Environment& env, std::string_view env_prefix,
                       NodeOptions* options, TomlSettings* settings);

// The whole file at `path`: "" or why it cannot be read
// ("cannot open node.toml: No such file or directory").
std::string read_text_file(const std::string& path, std::string* text);

// read_text_file, then apply_toml with the file's path as its source:
// DENGINE_OK, DENGINE_ERR_IO (the file cannot be read) or
// DENGINE_ERR_INVALID_ARGUMENT (the configuration is wrong), with *error
// saying what.
int load_toml_file(const std::string& path, const Environment& env,
                   std::string_view env_prefix, NodeOptions* options,
                   TomlSettings* settings, std::string* error);

// options.check() for options read from `source`: "" when they can start a
// node, else the broken rule placed where the key of the option it names
// was set (settings.origins; else `source`), e.g.
//   node1.toml:9:18: raft.election_ticks: must be greater than
//   heartbeat_ticks (4), got 4
std::string validate_at(const NodeOptions& options,
                        const TomlSettings& settings, std::string_view source);

// The variable that sets a key: env_variable("DENGINE_", "raft.tick_ms") is
// "DENGINE_RAFT_TICK_MS".
std::string env_variable(std::string_view env_prefix,
                         std::string_view full_key);

}  // namespace dengine::node
