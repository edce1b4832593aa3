#include "dengined/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <toml++/toml.h>

#include "net/address.h"
#include "net/frame.h"

namespace dengine::server {
namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// How a key's value is written, in the file and in its variable.
enum class Kind {
  kInteger,   // 42
  kString,    // "text"
  kSize,      // bytes: 1048576, or "1MiB" (units B, KiB, MiB, GiB, TiB)
  kIdList,    // [1, 2, 3]; variable: "1,2,3"
  kPeerList,  // [{ id = 2, address = "h:p", client_address = "h:p" }];
              // variable: "2=h:p/h:p,3=h:p" (the client address optional)
};

// One entry of cluster.peers.
struct Peer {
  raft::NodeId id = raft::kNoNode;
  std::string address;         // its peer listener
  std::string client_address;  // its client listener; empty when not given
};

// A value as read, before its key checks its range and stores it. Sizes are
// integers; list elements are checked as they are read (check_voter,
// check_peer), where each one's position is known.
using Value = std::variant<int64_t, std::string, std::vector<raft::NodeId>,
                           std::vector<Peer>>;

struct Key {
  std::string_view section;
  std::string_view name;
  Kind kind;
  bool required;  // no usable default: the file or a variable must set it
  // Checks the value and stores it in *config: "" or what is wrong.
  std::string (*store)(const Value& value, ServerConfig* config);
};

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

template <typename T>
std::string store_integer(const Value& value, int64_t min, int64_t max,
                          T* out) {
  const int64_t v = std::get<int64_t>(value);
  if (v < min || v > max) {
    return "must be between " + std::to_string(min) + " and " +
           std::to_string(max) + ", got " + std::to_string(v);
  }
  *out = static_cast<T>(v);
  return "";
}

std::string store_nonempty(const Value& value, std::string* out) {
  const std::string& text = std::get<std::string>(value);
  if (text.empty()) return "must not be empty";
  *out = text;
  return "";
}

std::string store_address(const Value& value, std::string* out) {
  const std::string& text = std::get<std::string>(value);
  net::HostPort parsed;
  std::string problem =
      net::parse_address(text, /*allow_any_port=*/false, &parsed);
  if (problem.empty()) *out = text;
  return problem;
}

template <typename T>
std::string store_choice(
    const Value& value,
    std::initializer_list<std::pair<std::string_view, T>> choices, T* out) {
  const std::string& text = std::get<std::string>(value);
  std::string names;
  for (const auto& [name, choice] : choices) {
    if (text == name) {
      *out = choice;
      return "";
    }
    names += (names.empty() ? "" : ", ") + quoted(name);
  }
  return "must be one of " + names + ", got " + quoted(text);
}

constexpr bool kRequired = true;
constexpr bool kOptional = false;

// Every key, in the order of docs/operations.md. Bounds keep values sane
// (typos such as an extra zero fail here) and within the fields' types.
const Key kKeys[] = {
    {"node", "id", Kind::kInteger, kRequired,
     [](const Value& v, ServerConfig* c) {
       return store_integer(v, 1, kMaxInt64, &c->node.id);
     }},
    {"node", "cluster_id", Kind::kInteger, kOptional,
     [](const Value& v, ServerConfig* c) {
       return store_integer(v, 0, kMaxInt64, &c->node.cluster_id);
     }},
    {"node", "data_dir", Kind::kString, kRequired,
     [](const Value& v, ServerConfig* c) {
       return store_nonempty(v, &c->node.data_dir);
     }},
    {"node", "peer_address", Kind::kString, kRequired,
     [](const Value& v, ServerConfig* c) {
       return store_address(v, &c->node.listen_address);
     }},
    {"node", "client_address", Kind::kString, kRequired,
     [](const Value& v, ServerConfig* c) {
       return store_address(v, &c->client_address);
     }},
    {"cluster", "initial_voters", Kind::kIdList, kOptional,
     [](const Value& v, ServerConfig* c) {
       c->node.initial_voters = std::get<std::vector<raft::NodeId>>(v);
       return std::string();
     }},
    {"cluster", "peers", Kind::kPeerList, kOptional,
     [](const Value& v, ServerConfig* c) {
       c->node.peers.clear();
       c->client_addresses.clear();
       for (const Peer& peer : std::get<std::vector<Peer>>(v)) {
         c->node.peers.push_back({peer.id, peer.address, true});
         if (!peer.client_address.empty()) {
           c->client_addresses[peer.id] = peer.client_address;
         }
       }
       return std::string();
     }},
    {"storage", "log_backend", Kind::kString, kOptional,
     [](const Value& v, ServerConfig* c) {
       return store_choice(v,
                           {{"wal", node::LogBackend::kWal},
                            {"rocksdb", node::LogBackend::kRocksDb}},
                           &c->node.log_backend);
     }},
    {"storage", "state_machine", Kind::kString, kOptional,
     [](const Value& v, ServerConfig* c) {
       return store_choice(v,
                           {{"rocksdb", int{DENGINE_KV_ROCKSDB}},
                            {"file", int{DENGINE_KV_FILE}}},
                           &c->node.kv_backend);
     }},
    {"storage", "snapshot_entries", Kind::kInteger, kOptional,
     [](const Value& v, ServerConfig* c) {
       return store_integer(v, 0, kMaxInt64, &c->node.snapshot_policy.entries);
     }},
    {"storage", "snapshot_bytes", Kind::kSize, kOptional,
     [](const Value& v, ServerConfig* c) {
       return store_integer(v, 0, kMaxInt64, &c->node.snapshot_policy.bytes);
     }},
    {"storage", "snapshots_kept", Kind::kInteger, kOptional,
     [](const Value& v, ServerConfig* c) {
       return store_integer(v, 1, 1000, &c->node.snapshots_kept);
     }},
    {"storage", "max_entry_bytes", Kind::kSize, kOptional,
     [](const Value& v, ServerConfig* c) {
       // An entry and the message around it must fit in one peer frame.
       return store_integer(v, 1,
                            int64_t{net::kDefaultMaxFramePayload} - (1 << 20),
                            &c->node.max_entry_bytes);
     }},
    {"raft", "tick_ms", Kind::kInteger, kOptional,
     [](const Value& v, ServerConfig* c) {
       int64_t ms = 0;
       std::string problem = store_integer(v, 1, 10'000, &ms);
       if (problem.empty()) {
         c->node.tick_interval = std::chrono::milliseconds(ms);
       }
       return problem;
     }},
    {"raft", "election_ticks", Kind::kInteger, kOptional,
     [](const Value& v, ServerConfig* c) {
       // Above the lease margin of raft::Config (lease_drift_ticks = 2).
       return store_integer(v, 3, 10'000, &c->node.election_ticks);
     }},
    {"raft", "heartbeat_ticks", Kind::kInteger, kOptional,
     [](const Value& v, ServerConfig* c) {
       return store_integer(v, 1, 10'000, &c->node.heartbeat_ticks);
     }},
    {"raft", "default_read", Kind::kString, kOptional,
     [](const Value& v, ServerConfig* c) {
       using node::ReadConsistency;
       return store_choice(v,
                           {{"linearizable", ReadConsistency::kLinearizable},
                            {"lease", ReadConsistency::kLease},
                            {"eventual", ReadConsistency::kEventual}},
                           &c->node.default_read);
     }},
    {"log", "level", Kind::kString, kOptional,
     [](const Value& v, ServerConfig* c) {
       return store_choice(v,
                           {{"debug", int{DENGINE_LOG_DEBUG}},
                            {"info", int{DENGINE_LOG_INFO}},
                            {"warn", int{DENGINE_LOG_WARN}},
                            {"error", int{DENGINE_LOG_ERROR}}},
                           &c->log_level);
     }},
};

std::string full_name(const Key& key) {
  return std::string(key.section) + "." + std::string(key.name);
}

std::string upper(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::toupper(c));
  return result;
}

// "DENGINE_RAFT_": every variable of a section starts with it.
std::string env_prefix(std::string_view section) {
  return "DENGINE_" + upper(section) + "_";
}

std::string env_name(const Key& key) {
  return env_prefix(key.section) + upper(key.name);
}

std::vector<std::string> sections() {
  std::vector<std::string> names;
  for (const Key& key : kKeys) {
    if (std::find(names.begin(), names.end(), key.section) == names.end()) {
      names.emplace_back(key.section);
    }
  }
  return names;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean "x"?" for a near miss, else the list of known names.
std::string hint(std::string_view name,
                 const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_distance = 3;  // more than 2 edits away is no typo
  for (const std::string& candidate : candidates) {
    const size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  if (best != nullptr) return "; did you mean " + quoted(*best) + "?";
  std::string list;
  for (const std::string& candidate : candidates) {
    list += (list.empty() ? "" : ", ") + candidate;
  }
  return "; known: " + list;
}

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string position(std::string_view source,
                     const toml::source_region& region) {
  return std::string(source) + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

std::string_view trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t") + 1 - begin);
}

// The whole of `text` as a decimal integer.
bool parse_int64(std::string_view text, int64_t* out) {
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// A byte count written as digits and an optional unit (powers of 1024).
std::string parse_size(std::string_view text, int64_t* out) {
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"", 0}, {"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
  const std::string problem =
      "expected a size such as 1048576 or \"64MiB\" (units B, KiB, MiB, GiB, "
      "TiB), got " +
      quoted(text);
  const size_t digits = text.find_first_not_of("0123456789");
  const std::string_view number = text.substr(0, digits);
  const std::string_view unit =
      digits == std::string_view::npos ? "" : trim(text.substr(digits));
  int64_t count = 0;
  if (!parse_int64(number, &count)) return problem;
  for (const auto& [name, shift] : kUnits) {
    if (unit != name) continue;
    if (count > (kMaxInt64 >> shift)) {
      return "size " + quoted(text) + " is too large";
    }
    *out = count << shift;
    return "";
  }
  return problem;
}

// One element of a list key, checked alike from the file and the environment
// against the elements before it.
std::string check_voter(int64_t id, const std::vector<raft::NodeId>& before) {
  if (id < 1) return "node ids must be at least 1, got " + std::to_string(id);
  if (std::find(before.begin(), before.end(), static_cast<raft::NodeId>(id)) !=
      before.end()) {
    return "node " + std::to_string(id) + " is listed twice";
  }
  return "";
}

std::string check_peer(int64_t id, const std::string& address,
                       const std::string& client_address,
                       const std::vector<Peer>& before) {
  if (id < 1) return "node ids must be at least 1, got " + std::to_string(id);
  net::HostPort parsed;
  std::string problem =
      net::parse_address(address, /*allow_any_port=*/false, &parsed);
  if (problem.empty() && !client_address.empty()) {
    problem =
        net::parse_address(client_address, /*allow_any_port=*/false, &parsed);
  }
  if (!problem.empty()) return problem;
  for (const Peer& peer : before) {
    if (peer.id == static_cast<raft::NodeId>(id)) {
      return "peer id " + std::to_string(id) + " is listed twice";
    }
    for (const std::string& used : {peer.address, peer.client_address}) {
      if (used == address ||
          (!client_address.empty() && used == client_address)) {
        return "address " + quoted(used) + " is listed twice (peers " +
               std::to_string(peer.id) + " and " + std::to_string(id) + ")";
      }
    }
  }
  if (address == client_address) {
    return "address " + quoted(address) + " is listed twice (peer " +
           std::to_string(id) + ")";
  }
  return "";
}

// Reads `node`, the value of `key` in the file. Errors are whole messages:
// element errors point at the element.
std::string from_toml(const toml::node& node, const Key& key,
                      std::string_view source, Value* out) {
  const std::string name = full_name(key);
  auto fail = [&](const toml::node& at, const std::string& what,
                  const std::string& problem) {
    return position(source, at.source()) + ": " + what + ": " + problem;
  };
  auto wrong_type = [&](const toml::node& at, const std::string& what,
                        const char* expected) {
    return fail(at, what,
                std::string("expected ") + expected + ", got " + type_name(at));
  };
  switch (key.kind) {
    case Kind::kInteger:
      if (!node.is_integer()) return wrong_type(node, name, "an integer");
      *out = node.as_integer()->get();
      return "";
    case Kind::kString:
      if (!node.is_string()) return wrong_type(node, name, "a string");
      *out = node.as_string()->get();
      return "";
    case Kind::kSize: {
      if (node.is_integer()) {
        *out = node.as_integer()->get();
        return "";
      }
      int64_t bytes = 0;
      std::string problem =
          node.is_string()
              ? parse_size(node.as_string()->get(), &bytes)
              : std::string(
                    "expected a size (an integer, or a string such as "
                    "\"64MiB\"), got ") +
                    type_name(node);
      if (!problem.empty()) return fail(node, name, problem);
      *out = bytes;
      return "";
    }
    case Kind::kIdList: {
      if (!node.is_array()) return wrong_type(node, name, "an array of ids");
      std::vector<raft::NodeId> ids;
      const toml::array& array = *node.as_array();
      for (size_t i = 0; i < array.size(); ++i) {
        const toml::node& element = array[i];
        const std::string what = name + "[" + std::to_string(i) + "]";
        if (!element.is_integer()) {
          return wrong_type(element, what, "an integer");
        }
        const int64_t id = element.as_integer()->get();
        std::string problem = check_voter(id, ids);
        if (!problem.empty()) return fail(element, what, problem);
        ids.push_back(static_cast<raft::NodeId>(id));
      }
      *out = std::move(ids);
      return "";
    }
    case Kind::kPeerList: {
      if (!node.is_array()) {
        return wrong_type(node, name, "an array of { id, address } tables");
      }
      std::vector<Peer> peers;
      const toml::array& array = *node.as_array();
      for (size_t i = 0; i < array.size(); ++i) {
        const toml::node& element = array[i];
        const std::string what = name + "[" + std::to_string(i) + "]";
        if (!element.is_table()) {
          return wrong_type(element, what, "a table { id, address }");
        }
        const toml::table& table = *element.as_table();
        const std::vector<std::string> fields = {"id", "address",
                                                 "client_address"};
        for (const auto& [field, field_value] : table) {
          if (std::find(fields.begin(), fields.end(), field.str()) ==
              fields.end()) {
            return position(source, field.source()) + ": " + what + "." +
                   std::string(field.str()) + ": unknown key" +
                   hint(field.str(), fields);
          }
          const bool is_id = field.str() == "id";
          if (is_id ? !field_value.is_integer() : !field_value.is_string()) {
            return wrong_type(field_value,
                              what + "." + std::string(field.str()),
                              is_id ? "an integer" : "a string");
          }
        }
        const toml::node* id = table.get("id");
        const toml::node* address = table.get("address");
        const toml::node* client_address = table.get("client_address");
        if (id == nullptr) return fail(element, what, "missing id");
        if (address == nullptr) return fail(element, what, "missing address");
        Peer peer{static_cast<raft::NodeId>(id->as_integer()->get()),
                  address->as_string()->get(),
                  client_address == nullptr
                      ? std::string()
                      : client_address->as_string()->get()};
        std::string problem = check_peer(id->as_integer()->get(), peer.address,
                                         peer.client_address, peers);
        if (!problem.empty()) return fail(element, what, problem);
        peers.push_back(std::move(peer));
      }
      *out = std::move(peers);
      return "";
    }
  }
  std::abort();  // every Kind is handled above
}

// Reads `text`, the value of `key` from its variable: "" or the problem.
std::string from_env(std::string_view text, const Key& key, Value* out) {
  const std::string got = ", got " + quoted(text);
  switch (key.kind) {
    case Kind::kInteger: {
      int64_t value = 0;
      if (!parse_int64(text, &value)) return "expected an integer" + got;
      *out = value;
      return "";
    }
    case Kind::kString:
      *out = std::string(text);
      return "";
    case Kind::kSize: {
      int64_t bytes = 0;
      std::string problem = parse_size(text, &bytes);
      if (problem.empty()) *out = bytes;
      return problem;
    }
    case Kind::kIdList: {
      std::vector<raft::NodeId> ids;
      for (size_t begin = 0; !trim(text).empty() && begin <= text.size();) {
        const size_t comma = std::min(text.find(',', begin), text.size());
        const std::string_view item = trim(text.substr(begin, comma - begin));
        int64_t id = 0;
        if (!parse_int64(item, &id)) {
          return "expected ids separated by commas such as \"1,2,3\"" + got;
        }
        std::string problem = check_voter(id, ids);
        if (!problem.empty()) return problem;
        ids.push_back(static_cast<raft::NodeId>(id));
        begin = comma + 1;
      }
      *out = std::move(ids);
      return "";
    }
    case Kind::kPeerList: {
      std::vector<Peer> peers;
      for (size_t begin = 0; !trim(text).empty() && begin <= text.size();) {
        const size_t comma = std::min(text.find(',', begin), text.size());
        const std::string_view item = trim(text.substr(begin, comma - begin));
        const size_t equals = item.find('=');
        int64_t id = 0;
        if (equals == std::string_view::npos ||
            !parse_int64(trim(item.substr(0, equals)), &id)) {
          return "expected id=host:port pairs separated by commas such as "
                 "\"2=127.0.0.1:7002,3=127.0.0.1:7003\" (or "
                 "id=host:port/client-host:port)" +
                 got;
        }
        const std::string_view addresses = item.substr(equals + 1);
        const size_t slash = addresses.find('/');
        Peer peer{static_cast<raft::NodeId>(id),
                  std::string(trim(addresses.substr(0, slash))),
                  slash == std::string_view::npos
                      ? std::string()
                      : std::string(trim(addresses.substr(slash + 1)))};
        if (slash != std::string_view::npos && peer.client_address.empty()) {
          return "peer " + std::to_string(id) +
                 ": expected a client address after \"/\"" + got;
        }
        std::string problem =
            check_peer(id, peer.address, peer.client_address, peers);
        if (!problem.empty()) return problem;
        peers.push_back(std::move(peer));
        begin = comma + 1;
      }
      *out = std::move(peers);
      return "";
    }
  }
  std::abort();  // every Kind is handled above
}

const Key* find_key(std::string_view section, std::string_view name) {
  for (const Key& key : kKeys) {
    if (key.section == section && key.name == name) return &key;
  }
  return nullptr;
}

// Where each key was last set ("file:line:col" or "environment variable
// X"), for the checks that span keys.
using Origins = std::map<std::string, std::string, std::less<>>;

std::string apply_file(const toml::table& root, std::string_view source,
                       ServerConfig* config, Origins* origins) {
  const std::vector<std::string> section_names = sections();
  for (const auto& [section_key, section] : root) {
    const std::string section_name(section_key.str());
    const std::string at = position(source, section_key.source());
    const bool known = std::find(section_names.begin(), section_names.end(),
                                 section_name) != section_names.end();
    if (!known && !section.is_table()) {
      return at + ": " + section_name +
             ": unknown key at the top level (every key belongs in a "
             "section such as [node])";
    }
    if (!known) {
      return at + ": [" + section_name + "]: unknown section" +
             hint(section_name, section_names);
    }
    if (!section.is_table()) {
      return position(source, section.source()) + ": " + section_name +
             ": expected a table ([" + section_name + "]), got " +
             type_name(section);
    }
    for (const auto& [name_key, value] : *section.as_table()) {
      const std::string_view name = name_key.str();
      const Key* key = find_key(section_name, name);
      if (key == nullptr) {
        std::vector<std::string> names;
        for (const Key& k : kKeys) {
          if (k.section == section_name) names.emplace_back(k.name);
        }
        return position(source, name_key.source()) + ": " + section_name + "." +
               std::string(name) + ": unknown key" + hint(name, names);
      }
      Value parsed;
      std::string problem = from_toml(value, *key, source, &parsed);
      if (!problem.empty()) return problem;
      const std::string where = position(source, value.source());
      problem = key->store(parsed, config);
      if (!problem.empty()) {
        return where + ": " + full_name(*key) + ": " + problem;
      }
      (*origins)[full_name(*key)] = where;
    }
  }
  return "";
}

std::string apply_env(const Environment& env, ServerConfig* config,
                      Origins* origins) {
  for (const auto& [variable, text] : env) {
    const Key* key = nullptr;
    std::vector<std::string> section_variables;  // of the section it names
    for (const Key& candidate : kKeys) {
      std::string name = env_name(candidate);
      if (name == variable) key = &candidate;
      if (variable.starts_with(env_prefix(candidate.section))) {
        section_variables.push_back(std::move(name));
      }
    }
    if (section_variables.empty()) continue;  // not a configuration variable
    const std::string where = "environment variable " + variable;
    if (key == nullptr) {
      return where + ": unknown variable" + hint(variable, section_variables);
    }
    Value parsed;
    std::string problem = from_env(text, *key, &parsed);
    if (problem.empty()) problem = key->store(parsed, config);
    if (!problem.empty()) {
      return where + ": " + full_name(*key) + ": " + problem;
    }
    (*origins)[full_name(*key)] = where;
  }
  return "";
}

// The checks that involve more than one key, once all are set.
std::string check_together(const ServerConfig& config, const Origins& origins) {
  auto at = [&](std::string_view key) {
    const auto it = origins.find(key);
    return (it == origins.end() ? config.source : it->second) + ": " +
           std::string(key) + ": ";
  };
  for (const Key& key : kKeys) {
    if (key.required && !origins.contains(full_name(key))) {
      return config.source + ": " + full_name(key) + ": missing; set it in [" +
             std::string(key.section) + "] or with " + env_name(key);
    }
  }
  const node::NodeOptions& node = config.node;
  if (config.client_address == node.listen_address) {
    return at("node.client_address") + "must differ from node.peer_address (" +
           quoted(node.listen_address) + ")";
  }
  for (const node::Member& peer : node.peers) {
    if (peer.id == node.id) {
      return at("cluster.peers") + "peer " + std::to_string(peer.id) +
             " is this node (node.id); list only the other nodes";
    }
    if (peer.address == node.listen_address) {
      return at("cluster.peers") + "peer " + std::to_string(peer.id) +
             " has this node's own address " + quoted(peer.address) +
             " (node.peer_address)";
    }
  }
  for (const auto& [id, address] : config.client_addresses) {
    if (address == config.client_address) {
      return at("cluster.peers") + "peer " + std::to_string(id) +
             " has this node's own client address " + quoted(address) +
             " (node.client_address)";
    }
  }
  const std::vector<raft::NodeId>& voters = node.initial_voters;
  if (!voters.empty()) {
    if (std::find(voters.begin(), voters.end(), node.id) == voters.end()) {
      return at("cluster.initial_voters") + "must contain this node (node.id " +
             std::to_string(node.id) +
             "); omit it to join an existing cluster instead";
    }
    for (raft::NodeId voter : voters) {
      const bool known =
          voter == node.id || std::any_of(node.peers.begin(), node.peers.end(),
                                          [&](const node::Member& peer) {
                                            return peer.id == voter;
                                          });
      if (!known) {
        return at("cluster.initial_voters") + "voter " + std::to_string(voter) +
               " has no address in cluster.peers";
      }
    }
  }
  if (node.heartbeat_ticks >= node.election_ticks) {
    return at("raft.election_ticks") +
           "must be greater than raft.heartbeat_ticks (" +
           std::to_string(node.heartbeat_ticks) + "), got " +
           std::to_string(node.election_ticks);
  }
  return "";
}

}  // namespace

Environment process_environment() {
  Environment env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos || !text.starts_with("DENGINE_")) {
      continue;
    }
    env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

bool load_config(const std::string& path, const Environment& env,
                 ServerConfig* out, std::string* error) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string text;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
    text.append(buffer, n);
  }
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) {
    *error = "cannot read " + path + ": " + std::strerror(read_errno);
    return false;
  }
  return parse_config(text, path, env, out, error);
}

bool parse_config(std::string_view toml_text, std::string_view source_name,
                  const Environment& env, ServerConfig* out,
                  std::string* error) {
  ServerConfig config;
  config.source = std::string(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    *error =
        position(source_name, e.source()) + ": " + std::string(e.description());
    return false;
  }
  Origins origins;
  std::string problem = apply_file(root, source_name, &config, &origins);
  if (problem.empty()) problem = apply_env(env, &config, &origins);
  if (problem.empty()) problem = check_together(config, origins);
  // The node's own checks back ours up (they name fields, not places).
  if (std::string e = config.node.validate(); problem.empty() && !e.empty()) {
    problem = config.source + ": " + e;
  }
  if (!problem.empty()) {
    *error = std::move(problem);
    return false;
  }
  *out = std::move(config);
  return true;
}

}  // namespace dengine::server
