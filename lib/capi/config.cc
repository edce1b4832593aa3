// dengine_config_*: a NodeOptions behind an opaque handle. Each setter stores
// its value once the node layer's rule for it (node/options.h) accepts it;
// dengine_node_start checks the whole. dengine_config_load_toml is the node
// layer's TOML loader (node/toml_config.h).
#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "capi/errors.h"
#include "capi/handles.h"
#include "node/toml_config.h"
#include "sm/versioned_struct.h"

using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::node::NodeOptions;

namespace {

// An option's rule on a value: "" when accepted.
struct Checked {
  const char* option = "";
  std::string problem;
};

// A setter: after the NULL check, `set` stores its value (or refuses it)
// and says what the option's rule said.
template <typename Set>
int configure(dengine_config* config, const char* function, Set set) {
  return guarded(function, [&]() -> int {
    if (config == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(function) + ": config is NULL");
    }
    const Checked checked = set(config->options);
    if (!checked.problem.empty()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT, std::string(function) + ": " +
                                                    checked.option + ": " +
                                                    checked.problem);
    }
    return DENGINE_OK;
  });
}

// Runs `store` when every rule accepts its value; else names the first
// option refused.
template <typename Store>
Checked store_if(std::initializer_list<Checked> checks, Store store) {
  for (const Checked& check : checks) {
    if (!check.problem.empty()) return check;
  }
  store();
  return {};
}

// NULL strings are read as empty, which every rule on a string refuses.
std::string_view text(const char* s) { return s == nullptr ? "" : s; }

}  // namespace

extern "C" {

int dengine_config_new(dengine_config** out) {
  return guarded("dengine_config_new", [&]() -> int {
    if (out == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  "dengine_config_new: out is NULL");
    }
    *out = new dengine_config();
    return DENGINE_OK;
  });
}

void dengine_config_free(dengine_config* config) {
  guarded("dengine_config_free", [&] { delete config; });
}

int dengine_config_set_node_id(dengine_config* config, uint64_t id) {
  return configure(config, "dengine_config_set_node_id", [&](NodeOptions& o) {
    return store_if({{"id", NodeOptions::check_id(id)}}, [&] { o.id = id; });
  });
}

int dengine_config_set_cluster_id(dengine_config* config, uint64_t cluster_id) {
  return configure(config, "dengine_config_set_cluster_id",
                   [&](NodeOptions& o) {
                     return store_if({}, [&] { o.cluster_id = cluster_id; });
                   });
}

int dengine_config_set_data_dir(dengine_config* config, const char* dir) {
  return configure(config, "dengine_config_set_data_dir", [&](NodeOptions& o) {
    return store_if({{"data_dir", NodeOptions::check_data_dir(text(dir))}},
                    [&] { o.data_dir = dir; });
  });
}

int dengine_config_set_peer_address(dengine_config* config,
                                    const char* address) {
  return configure(
      config, "dengine_config_set_peer_address", [&](NodeOptions& o) {
        return store_if({{"peer_address",
                          NodeOptions::check_listen_address(text(address))}},
                        [&] { o.listen_address = address; });
      });
}

int dengine_config_set_listen_address(dengine_config* config,
                                      const char* address) {
  return dengine_config_set_peer_address(config, address);
}

int dengine_config_add_peer(dengine_config* config, uint64_t id,
                            const char* address) {
  return configure(config, "dengine_config_add_peer", [&](NodeOptions& o) {
    return Checked{"peers", o.add_peer(id, text(address))};
  });
}

int dengine_config_set_client_address(dengine_config* config,
                                      const char* address) {
  return configure(
      config, "dengine_config_set_client_address", [&](NodeOptions& o) {
        return store_if({{"client_address",
                          NodeOptions::check_listen_address(text(address))}},
                        [&] { o.client_address = address; });
      });
}

int dengine_config_add_peer_client_address(dengine_config* config, uint64_t id,
                                           const char* address) {
  return configure(
      config, "dengine_config_add_peer_client_address", [&](NodeOptions& o) {
        return Checked{"peers", o.add_peer_client_address(id, text(address))};
      });
}

int dengine_config_set_initial_voters(dengine_config* config,
                                      const uint64_t* ids, size_t count) {
  return configure(
      config, "dengine_config_set_initial_voters", [&](NodeOptions& o) {
        if (ids == nullptr && count > 0) {
          return Checked{"initial_voters", "ids is NULL"};
        }
        std::vector<dengine::raft::NodeId> voters(ids, ids + count);
        return store_if(
            {{"initial_voters", NodeOptions::check_initial_voters(voters)}},
            [&] { o.initial_voters = std::move(voters); });
      });
}

int dengine_config_set_log_backend(dengine_config* config, int backend) {
  return configure(
      config, "dengine_config_set_log_backend", [&](NodeOptions& o) {
        dengine::node::LogBackend value{};
        return store_if(
            {{"log_backend", NodeOptions::log_backend_of(backend, &value)}},
            [&] { o.log_backend = value; });
      });
}

int dengine_config_set_storage(dengine_config* config, int storage) {
  return dengine_config_set_log_backend(config, storage);
}

int dengine_config_set_state_machine(dengine_config* config,
                                     const dengine_state_machine* machine) {
  return configure(
      config, "dengine_config_set_state_machine", [&](NodeOptions& o) {
        dengine_state_machine read{};
        std::string problem = dengine::sm::read_versioned(
            "machine", machine, DENGINE_STATE_MACHINE_VERSION, &read);
        if (problem.empty()) problem = NodeOptions::check_state_machine(read);
        return store_if({{"state_machine", std::move(problem)}},
                        [&] { o.machine = read; });
      });
}

int dengine_config_set_kv_backend(dengine_config* config, int backend) {
  return configure(
      config, "dengine_config_set_kv_backend", [&](NodeOptions& o) {
        return store_if(
            {{"kv_backend", NodeOptions::check_kv_backend(backend)}},
            [&] { o.kv_backend = backend; });
      });
}

int dengine_config_set_tick_ms(dengine_config* config, uint32_t tick_ms) {
  return configure(config, "dengine_config_set_tick_ms", [&](NodeOptions& o) {
    return store_if({{"tick_ms", NodeOptions::check_tick_ms(tick_ms)}}, [&] {
      o.tick_interval = std::chrono::milliseconds(tick_ms);
    });
  });
}

int dengine_config_set_election_ticks(dengine_config* config, uint32_t ticks) {
  return configure(
      config, "dengine_config_set_election_ticks", [&](NodeOptions& o) {
        return store_if(
            {{"election_ticks", NodeOptions::check_election_ticks(ticks)}},
            [&] { o.election_ticks = static_cast<int>(ticks); });
      });
}

int dengine_config_set_heartbeat_ticks(dengine_config* config, uint32_t ticks) {
  return configure(
      config, "dengine_config_set_heartbeat_ticks", [&](NodeOptions& o) {
        return store_if(
            {{"heartbeat_ticks", NodeOptions::check_heartbeat_ticks(ticks)}},
            [&] { o.heartbeat_ticks = static_cast<int>(ticks); });
      });
}

int dengine_config_set_timing(dengine_config* config, uint32_t tick_ms,
                              uint32_t election_ticks,
                              uint32_t heartbeat_ticks) {
  return configure(config, "dengine_config_set_timing", [&](NodeOptions& o) {
    return store_if(
        {{"tick_ms", NodeOptions::check_tick_ms(tick_ms)},
         {"election_ticks", NodeOptions::check_election_ticks(election_ticks)},
         {"heartbeat_ticks",
          NodeOptions::check_heartbeat_ticks(heartbeat_ticks)}},
        [&] {
          o.tick_interval = std::chrono::milliseconds(tick_ms);
          o.election_ticks = static_cast<int>(election_ticks);
          o.heartbeat_ticks = static_cast<int>(heartbeat_ticks);
        });
  });
}

int dengine_config_set_default_read(dengine_config* config, int consistency) {
  return configure(
      config, "dengine_config_set_default_read", [&](NodeOptions& o) {
        dengine::node::ReadConsistency value{};
        return store_if({{"default_read", NodeOptions::read_consistency_of(
                                              consistency, &value)}},
                        [&] { o.default_read = value; });
      });
}

int dengine_config_set_snapshot_entries(dengine_config* config,
                                        uint64_t entries) {
  return configure(
      config, "dengine_config_set_snapshot_entries", [&](NodeOptions& o) {
        return store_if({}, [&] { o.snapshot_policy.entries = entries; });
      });
}

int dengine_config_set_snapshot_bytes(dengine_config* config, uint64_t bytes) {
  return configure(
      config, "dengine_config_set_snapshot_bytes", [&](NodeOptions& o) {
        return store_if({}, [&] { o.snapshot_policy.bytes = bytes; });
      });
}

int dengine_config_set_snapshot_policy(dengine_config* config, uint64_t entries,
                                       uint64_t bytes) {
  return configure(
      config, "dengine_config_set_snapshot_policy", [&](NodeOptions& o) {
        return store_if({}, [&] { o.snapshot_policy = {entries, bytes}; });
      });
}

int dengine_config_set_snapshots_kept(dengine_config* config, uint32_t count) {
  return configure(
      config, "dengine_config_set_snapshots_kept", [&](NodeOptions& o) {
        return store_if(
            {{"snapshots_kept", NodeOptions::check_snapshots_kept(count)}},
            [&] { o.snapshots_kept = static_cast<int>(count); });
      });
}

int dengine_config_set_max_entry_bytes(dengine_config* config, uint64_t bytes) {
  return configure(
      config, "dengine_config_set_max_entry_bytes", [&](NodeOptions& o) {
        return store_if(
            {{"max_entry_bytes", NodeOptions::check_max_entry_bytes(bytes)}},
            [&] { o.max_entry_bytes = bytes; });
      });
}

int dengine_config_set_watch_history_events(dengine_config* config,
                                            uint64_t count) {
  return configure(
      config, "dengine_config_set_watch_history_events", [&](NodeOptions& o) {
        return store_if({{"watch_history_events",
                          NodeOptions::check_watch_history_events(count)}},
                        [&] { o.watch_history.max_events = count; });
      });
}

int dengine_config_set_watch_history_bytes(dengine_config* config,
                                           uint64_t bytes) {
  return configure(
      config, "dengine_config_set_watch_history_bytes", [&](NodeOptions& o) {
        return store_if({{"watch_history_bytes",
                          NodeOptions::check_watch_history_bytes(bytes)}},
                        [&] { o.watch_history.max_bytes = bytes; });
      });
}

int dengine_config_set_tls_cert_file(dengine_config* config, const char* path) {
  return configure(
      config, "dengine_config_set_tls_cert_file", [&](NodeOptions& o) {
        return store_if(
            {{"tls_cert_file", NodeOptions::check_tls_file(text(path))}},
            [&] { o.tls.files.cert_file = path; });
      });
}

int dengine_config_set_tls_key_file(dengine_config* config, const char* path) {
  return configure(
      config, "dengine_config_set_tls_key_file", [&](NodeOptions& o) {
        return store_if(
            {{"tls_key_file", NodeOptions::check_tls_file(text(path))}},
            [&] { o.tls.files.key_file = path; });
      });
}

int dengine_config_set_tls_ca_file(dengine_config* config, const char* path) {
  return configure(
      config, "dengine_config_set_tls_ca_file", [&](NodeOptions& o) {
        return store_if(
            {{"tls_ca_file", NodeOptions::check_tls_file(text(path))}},
            [&] { o.tls.files.ca_file = path; });
      });
}

int dengine_config_set_tls_min_version(dengine_config* config,
                                       const char* version) {
  return configure(
      config, "dengine_config_set_tls_min_version", [&](NodeOptions& o) {
        return Checked{"tls_min_version",
                       NodeOptions::tls_version_of(text(version),
                                                   &o.tls.files.min_version)};
      });
}

int dengine_config_set_tls_require_client_cert(dengine_config* config,
                                               int require) {
  return configure(config, "dengine_config_set_tls_require_client_cert",
                   [&](NodeOptions& o) {
                     return store_if(
                         {}, [&] { o.tls.require_client_cert = require != 0; });
                   });
}

int dengine_config_add_tls_admin_identity(dengine_config* config,
                                          const char* identity) {
  return configure(
      config, "dengine_config_add_tls_admin_identity", [&](NodeOptions& o) {
        return store_if(
            {{"tls_admin_identities",
              NodeOptions::check_tls_admin_identity(text(identity))}},
            [&] { o.tls.admin_identities.emplace_back(identity); });
      });
}

int dengine_config_load_toml(dengine_config* config, const char* path,
                             const char* env_prefix) {
  constexpr const char* kFunction = "dengine_config_load_toml";
  return guarded(kFunction, [&]() -> int {
    const std::string function(kFunction);
    if (config == nullptr || path == nullptr) {
      return fail(
          DENGINE_ERR_INVALID_ARGUMENT,
          function + (config == nullptr ? ": config" : ": path") + " is NULL");
    }
    if (env_prefix != nullptr && *env_prefix == '\0') {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  function + ": env_prefix is empty (NULL: no environment)");
    }
    const dengine::node::Environment env =
        env_prefix == nullptr ? dengine::node::Environment{}
                              : dengine::node::process_environment(env_prefix);
    // [log] level is accepted and left alone: logging is the process's
    // (dengine_set_log_callback), not a node's.
    dengine::node::TomlSettings settings;
    std::string error;
    const int status = dengine::node::load_toml_file(
        path, env, text(env_prefix), &config->options, &settings, &error);
    if (status != DENGINE_OK) return fail(status, function + ": " + error);
    return DENGINE_OK;
  });
}

uint64_t dengine_config_node_id(const dengine_config* config) {
  return config == nullptr ? 0 : config->options.id;  // nothing can throw
}

}  // extern "C"
