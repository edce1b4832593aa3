// dengined's configuration: one TOML file per node, then environment
// variables over it (DENGINE_<SECTION>_<KEY>), checked and turned into the
// node's options plus the server's own settings. docs/operations.md lists
// every key with its type, default and variable.
//
// Nothing passes silently: an unknown section, key or DENGINE_<SECTION>_*
// variable is an error (with the nearest known name when one is close), as
// is a wrong type or an out-of-range value. Every error names where it comes
// from ("file:line:column" or the variable) and the key.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "dengine.h"
#include "node/node.h"

namespace dengine::server {

struct ServerConfig {
  node::NodeOptions node;
  // "host:port" the server listens on for clients.
  std::string client_address;
  // The client addresses of the other nodes (from cluster.peers), by id:
  // a NOT_LEADER answer names the leader's.
  std::map<raft::NodeId, std::string> client_addresses;
  // DENGINE_LOG_*: lines below this level are dropped.
  int log_level = DENGINE_LOG_INFO;
  // The file (or name) the configuration was read from.
  std::string source;
};

// Environment variables by name. Those that start with DENGINE_<SECTION>_
// for a section of the file are read (an unknown one is an error); the rest
// are ignored.
using Environment = std::map<std::string, std::string, std::less<>>;

// The DENGINE_* variables of this process.
Environment process_environment();

// Reads the file at `path` and parses it as parse_config does.
bool load_config(const std::string& path, const Environment& env,
                 ServerConfig* out, std::string* error);

// Parses `toml_text` (read from `source_name`, used in messages), applies
// `env` over it and checks the result. Sets *out and returns true, or
// returns false with *error saying what is wrong, e.g.
//   node1.toml:2:6: node.id: expected an integer, got a string
//   environment variable DENGINE_RAFT_TICK_MS: raft.tick_ms: expected an
//   integer, got "fast"
bool parse_config(std::string_view toml_text, std::string_view source_name,
                  const Environment& env, ServerConfig* out,
                  std::string* error);

}  // namespace dengine::server
