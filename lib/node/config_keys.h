// The keys of a node's configuration file (docs/operations.md): their
// sections and names, how each value is written, and the option each sets,
// through that option's NodeOptions rule. Also the values as environment
// variables write them, and the "did you mean" hints. toml_config.cc reads
// TOML with these; nothing here knows the TOML parser.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "node/options.h"
#include "node/toml_config.h"

namespace dengine::node::config {

// How a key's value is written, in the file and in its variable.
enum class Kind {
  kCount,       // a non-negative integer: 42
  kString,      // "text"
  kSize,        // bytes: 1048576, or "1MiB" (units B, KiB, MiB, GiB, TiB)
  kIdList,      // [1, 2, 3]; variable: "1,2,3"
  kPeerList,    // [{ id = 2, address = "h:p", client_address = "h:p" }];
                // variable: "2=h:p/h:p,3=h:p" (the client address optional)
  kBool,        // true or false; variable: "true" or "false"
  kStringList,  // ["a", "b"]; variable: "a,b"
};

// cluster.peers as read: the peers and the client addresses given.
struct PeerList {
  std::vector<Member> peers;
  std::map<raft::NodeId, std::string> client_addresses;
};

// A value as read, before its key's rule checks it. List elements are
// checked as they are read, where each one's position is known.
using Value = std::variant<uint64_t, std::string, std::vector<raft::NodeId>,
                           PeerList, bool, std::vector<std::string>>;

struct Key {
  std::string_view section;
  // The key's name in its section. It is also the option's one name, when
  // the key sets an option, except in [tls], whose keys set the options
  // tls_<name> (option_name).
  std::string_view name;
  // The name this key had before, still accepted (docs/operations.md
  // lists it as deprecated), or "".
  std::string_view old_name;
  Kind kind;
  // Checks the value and stores it: "" or what is wrong.
  std::string (*store)(const Value& value, NodeOptions* options,
                       TomlSettings* settings);
};

// Every key, in the order of docs/operations.md.
std::span<const Key> keys();
// The sections, in that order.
std::vector<std::string> sections();
// The key named `name` (or `old_name`) in `section`, or null.
const Key* find_key(std::string_view section, std::string_view name);
// The key that sets `option`, or null.
const Key* key_of_option(std::string_view option);
// "raft.tick_ms".
std::string full_name(const Key& key);
// The option the key sets: "tick_ms", "tls_cert_file" ([tls] cert_file).
std::string option_name(const Key& key);
// Reads `text`, the value of `key` written in its variable: "" or the
// problem.
std::string parse_variable(std::string_view text, const Key& key, Value* out);
// A size written as text ("64MiB", "4096"): "" or the problem.
std::string parse_size(std::string_view text, uint64_t* out);

// "; did you mean "x"?" for a near miss, else "; known: a, b, c".
std::string hint(std::string_view name,
                 const std::vector<std::string>& candidates);
std::string quoted(std::string_view text);

}  // namespace dengine::node::config
