#include "node/config_keys.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <utility>

namespace dengine::node::config {
namespace {

constexpr uint64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// Stores a count into a field of type T after the option's rule.
template <typename T>
std::string store_count(const Value& value, std::string (*check)(uint64_t),
                        T* out) {
  const uint64_t v = std::get<uint64_t>(value);
  if (check != nullptr) {
    if (std::string problem = check(v); !problem.empty()) return problem;
  }
  *out = static_cast<T>(v);
  return "";
}

std::string store_text(const Value& value,
                       std::string (*check)(std::string_view),
                       std::string* out) {
  const std::string& text = std::get<std::string>(value);
  if (std::string problem = check(text); !problem.empty()) return problem;
  *out = text;
  return "";
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

const Key kKeys[] = {
    {"node", "id", "", Kind::kCount,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, &NodeOptions::check_id, &o->id);
     }},
    {"node", "cluster_id", "", Kind::kCount,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, nullptr, &o->cluster_id);
     }},
    {"node", "data_dir", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_text(v, &NodeOptions::check_data_dir, &o->data_dir);
     }},
    {"node", "peer_address", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_text(v, &NodeOptions::check_listen_address,
                         &o->listen_address);
     }},
    {"node", "client_address", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_text(v, &NodeOptions::check_listen_address,
                         &o->client_address);
     }},
    // Not a node option: see TomlSettings::metrics_address.
    {"node", "metrics_address", "", Kind::kString,
     [](const Value& v, NodeOptions*, TomlSettings* s) {
       std::string address;
       std::string problem =
           store_text(v, &NodeOptions::check_listen_address, &address);
       if (problem.empty()) s->metrics_address = address;
       return problem;
     }},
    {"cluster", "initial_voters", "", Kind::kIdList,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       const auto& voters = std::get<std::vector<raft::NodeId>>(v);
       std::string problem = NodeOptions::check_initial_voters(voters);
       if (problem.empty()) o->initial_voters = voters;
       return problem;
     }},
    {"cluster", "peers", "", Kind::kPeerList,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       const auto& list = std::get<PeerList>(v);
       std::string problem =
           NodeOptions::check_peers(list.peers, list.client_addresses);
       if (problem.empty()) {
         o->peers = list.peers;
         o->client_addresses = list.client_addresses;
       }
       return problem;
     }},
    {"storage", "log_backend", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_choice(
           v, {{"wal", LogBackend::kWal}, {"rocksdb", LogBackend::kRocksDb}},
           &o->log_backend);
     }},
    {"storage", "kv_backend", "state_machine", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_choice(v,
                           {{"rocksdb", int{DENGINE_KV_ROCKSDB}},
                            {"file", int{DENGINE_KV_FILE}}},
                           &o->kv_backend);
     }},
    {"storage", "snapshot_entries", "", Kind::kCount,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, nullptr, &o->snapshot_policy.entries);
     }},
    {"storage", "snapshot_bytes", "", Kind::kSize,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, nullptr, &o->snapshot_policy.bytes);
     }},
    {"storage", "snapshots_kept", "", Kind::kCount,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, &NodeOptions::check_snapshots_kept,
                          &o->snapshots_kept);
     }},
    {"storage", "max_entry_bytes", "", Kind::kSize,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, &NodeOptions::check_max_entry_bytes,
                          &o->max_entry_bytes);
     }},
    {"storage", "watch_history_events", "", Kind::kCount,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, &NodeOptions::check_watch_history_events,
                          &o->watch_history.max_events);
     }},
    {"storage", "watch_history_bytes", "", Kind::kSize,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, &NodeOptions::check_watch_history_bytes,
                          &o->watch_history.max_bytes);
     }},
    {"raft", "tick_ms", "", Kind::kCount,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       uint64_t ms = 0;
       std::string problem = store_count(v, &NodeOptions::check_tick_ms, &ms);
       if (problem.empty()) o->tick_interval = std::chrono::milliseconds(ms);
       return problem;
     }},
    {"raft", "election_ticks", "", Kind::kCount,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, &NodeOptions::check_election_ticks,
                          &o->election_ticks);
     }},
    {"raft", "heartbeat_ticks", "", Kind::kCount,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_count(v, &NodeOptions::check_heartbeat_ticks,
                          &o->heartbeat_ticks);
     }},
    {"raft", "default_read", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_choice(v,
                           {{"linearizable", ReadConsistency::kLinearizable},
                            {"lease", ReadConsistency::kLease},
                            {"eventual", ReadConsistency::kEventual}},
                           &o->default_read);
     }},
    {"tls", "cert_file", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_text(v, &NodeOptions::check_tls_file,
                         &o->tls.files.cert_file);
     }},
    {"tls", "key_file", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_text(v, &NodeOptions::check_tls_file,
                         &o->tls.files.key_file);
     }},
    {"tls", "ca_file", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return store_text(v, &NodeOptions::check_tls_file,
                         &o->tls.files.ca_file);
     }},
    {"tls", "min_version", "", Kind::kString,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       return NodeOptions::tls_version_of(std::get<std::string>(v),
                                          &o->tls.files.min_version);
     }},
    {"tls", "require_client_cert", "", Kind::kBool,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       o->tls.require_client_cert = std::get<bool>(v);
       return std::string();
     }},
    {"tls", "admin_identities", "", Kind::kStringList,
     [](const Value& v, NodeOptions* o, TomlSettings*) {
       const auto& identities = std::get<std::vector<std::string>>(v);
       for (const std::string& identity : identities) {
         std::string problem = NodeOptions::check_tls_admin_identity(identity);
         if (!problem.empty()) return problem;
       }
       o->tls.admin_identities = identities;
       return std::string();
     }},
    // Not a node option: see TomlSettings::log_level.
    {"log", "level", "", Kind::kString,
     [](const Value& v, NodeOptions*, TomlSettings* s) {
       int level = DENGINE_LOG_INFO;
       std::string problem = store_choice(v,
                                          {{"debug", int{DENGINE_LOG_DEBUG}},
                                           {"info", int{DENGINE_LOG_INFO}},
                                           {"warn", int{DENGINE_LOG_WARN}},
                                           {"error", int{DENGINE_LOG_ERROR}}},
                                          &level);
       if (problem.empty()) s->log_level = level;
       return problem;
     }},
};

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

std::string_view trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t") + 1 - begin);
}

// The whole of `text` as a decimal count, at most kMaxInt64 (what a TOML
// integer holds, so a variable takes what the file takes).
bool parse_count(std::string_view text, uint64_t* out) {
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() &&
         end == text.data() + text.size() && *out <= kMaxInt64;
}

// The items of a comma-separated list, trimmed; an empty or blank text is
// no items (an empty list).
std::vector<std::string_view> split_items(std::string_view text) {
  std::vector<std::string_view> items;
  if (trim(text).empty()) return items;
  for (size_t begin = 0; begin <= text.size();) {
    const size_t comma = std::min(text.find(',', begin), text.size());
    items.push_back(trim(text.substr(begin, comma - begin)));
    begin = comma + 1;
  }
  return items;
}

}  // namespace

std::span<const Key> keys() { return kKeys; }

std::vector<std::string> sections() {
  std::vector<std::string> names;
  for (const Key& key : kKeys) {
    if (std::find(names.begin(), names.end(), key.section) == names.end()) {
      names.emplace_back(key.section);
    }
  }
  return names;
}

const Key* find_key(std::string_view section, std::string_view name) {
  for (const Key& key : kKeys) {
    if (key.section == section &&
        (key.name == name || (!key.old_name.empty() && key.old_name == name))) {
      return &key;
    }
  }
  return nullptr;
}

const Key* key_of_option(std::string_view option) {
  for (const Key& key : kKeys) {
    if (key.section != "log" && option_name(key) == option) return &key;
  }
  return nullptr;
}

std::string full_name(const Key& key) {
  return std::string(key.section) + "." + std::string(key.name);
}

std::string option_name(const Key& key) {
  return (key.section == "tls" ? "tls_" : "") + std::string(key.name);
}

std::string parse_size(std::string_view text, uint64_t* out) {
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
  uint64_t count = 0;
  if (!parse_count(number, &count)) return problem;
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

std::string parse_variable(std::string_view text, const Key& key, Value* out) {
  const std::string got = ", got " + quoted(text);
  switch (key.kind) {
    case Kind::kCount: {
      uint64_t value = 0;
      if (!parse_count(text, &value)) {
        return "expected a non-negative integer" + got;
      }
      *out = value;
      return "";
    }
    case Kind::kString:
      *out = std::string(text);
      return "";
    case Kind::kSize: {
      uint64_t bytes = 0;
      std::string problem = parse_size(text, &bytes);
      if (problem.empty()) *out = bytes;
      return problem;
    }
    case Kind::kIdList: {
      std::vector<raft::NodeId> ids;
      for (std::string_view item : split_items(text)) {
        uint64_t id = 0;
        if (!parse_count(item, &id)) {
          return "expected ids separated by commas such as \"1,2,3\"" + got;
        }
        ids.push_back(id);
      }
      *out = std::move(ids);
      return "";
    }
    case Kind::kPeerList: {
      PeerList list;
      for (std::string_view item : split_items(text)) {
        const size_t equals = item.find('=');
        uint64_t id = 0;
        if (equals == std::string_view::npos ||
            !parse_count(trim(item.substr(0, equals)), &id)) {
          return "expected id=host:port pairs separated by commas such as "
                 "\"2=127.0.0.1:7002,3=127.0.0.1:7003\" (or "
                 "id=host:port/client-host:port)" +
                 got;
        }
        const std::string_view addresses = item.substr(equals + 1);
        const size_t slash = addresses.find('/');
        list.peers.push_back(
            {id, std::string(trim(addresses.substr(0, slash))), true});
        if (slash == std::string_view::npos) continue;
        const std::string_view client = trim(addresses.substr(slash + 1));
        if (client.empty()) {
          return "peer " + std::to_string(id) +
                 ": expected a client address after \"/\"" + got;
        }
        list.client_addresses[id] = std::string(client);
      }
      *out = std::move(list);
      return "";
    }
    case Kind::kBool:
      if (text != "true" && text != "false") {
        return "expected true or false" + got;
      }
      *out = text == "true";
      return "";
    case Kind::kStringList: {
      std::vector<std::string> items;
      for (std::string_view item : split_items(text)) {
        items.emplace_back(item);
      }
      *out = std::move(items);
      return "";
    }
  }
  return "unknown kind of value";  // every Kind is handled above
}

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

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

}  // namespace dengine::node::config
