// dengined's configuration: one TOML file per node, then environment
// variables over it (DENGINE_<SECTION>_<KEY>), read by the library's loader
// (node/toml_config.h, where every key and its rules live) and checked as a
// whole. docs/operations.md lists every key with its type, default and
// variable.
//
// What is dengined's own: the server needs node.id, node.data_dir,
// node.peer_address and node.client_address set, with real ports (peers and
// clients must know where to dial), and applies [log] level to its log.
// Every error names where it comes from ("file:line:column" or the
// variable) and the key.
#pragma once

#include <string>
#include <string_view>

#include "dengine.h"
#include "node/node.h"
#include "node/toml_config.h"

namespace dengine::server {

struct ServerConfig {
  // The node's options, the client listener (client_address) included.
  node::NodeOptions node;
  // [log] level: lines below this DENGINE_LOG_* level are dropped.
  int log_level = DENGINE_LOG_INFO;
  // [node] metrics_address: where /metrics and /healthz are served over
  // HTTP; empty: not served.
  std::string metrics_address;
  // The file (or name) the configuration was read from.
  std::string source;
};

using Environment = node::Environment;

// The DENGINE_* variables of this process.
Environment process_environment();

// Reads the file at `path` and parses it as parse_config does.
bool load_config(const std::string& path, const Environment& env,
                 ServerConfig* out, std::string* error);

// Parses `toml_text` (read from `source_name`, used in messages), applies
// the DENGINE_* variables of `env` over it and checks the result. Sets *out
// and returns true, or returns false with *error saying what is wrong, e.g.
//   node1.toml:2:6: node.id: expected an integer, got a string
//   environment variable DENGINE_RAFT_TICK_MS: raft.tick_ms: expected an
//   integer, got "fast"
bool parse_config(std::string_view toml_text, std::string_view source_name,
                  const Environment& env, ServerConfig* out,
                  std::string* error);

}  // namespace dengine::server
