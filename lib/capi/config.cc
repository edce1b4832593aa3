// dengine_config_*: a NodeOptions behind an opaque handle. Each setter
// checks its own argument; dengine_node_start validates the whole.
#include <string>

#include "capi/errors.h"
#include "capi/handles.h"
#include "net/address.h"
#include "sm/versioned_struct.h"

using dengine::capi::fail;
using dengine::capi::guarded;
using dengine::node::NodeOptions;

namespace {

// Runs `set` on the options after the common NULL check.
template <typename Set>
int configure(dengine_config* config, const char* function, Set set) {
  return guarded(function, [&]() -> int {
    if (config == nullptr) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(function) + ": config is NULL");
    }
    std::string error = set(config->options);
    if (!error.empty()) {
      return fail(DENGINE_ERR_INVALID_ARGUMENT,
                  std::string(function) + ": " + error);
    }
    return DENGINE_OK;
  });
}

std::string check_address(const char* address, bool allow_any_port) {
  if (address == nullptr) return "address is NULL";
  dengine::net::HostPort hp;
  return dengine::net::parse_address(address, allow_any_port, &hp);
}

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
  return configure(config, "dengine_config_set_node_id",
                   [&](NodeOptions& o) -> std::string {
                     if (id == 0) return "node id must be positive";
                     o.id = id;
                     return "";
                   });
}

int dengine_config_set_cluster_id(dengine_config* config, uint64_t cluster_id) {
  return configure(config, "dengine_config_set_cluster_id",
                   [&](NodeOptions& o) -> std::string {
                     o.cluster_id = cluster_id;
                     return "";
                   });
}

int dengine_config_set_data_dir(dengine_config* config, const char* dir) {
  return configure(config, "dengine_config_set_data_dir",
                   [&](NodeOptions& o) -> std::string {
                     if (dir == nullptr || *dir == '\0') {
                       return "data dir must not be empty";
                     }
                     o.data_dir = dir;
                     return "";
                   });
}

int dengine_config_set_listen_address(dengine_config* config,
                                      const char* address) {
  return configure(config, "dengine_config_set_listen_address",
                   [&](NodeOptions& o) -> std::string {
                     std::string error = check_address(address, true);
                     if (error.empty()) o.listen_address = address;
                     return error;
                   });
}

int dengine_config_add_peer(dengine_config* config, uint64_t id,
                            const char* address) {
  return configure(config, "dengine_config_add_peer",
                   [&](NodeOptions& o) -> std::string {
                     if (id == 0) return "peer id must be positive";
                     std::string error = check_address(address, false);
                     if (!error.empty()) return error;
                     for (auto& peer : o.peers) {
                       if (peer.id == id) {
                         peer.address = address;
                         return "";
                       }
                     }
                     o.peers.push_back({id, address, true});
                     return "";
                   });
}

int dengine_config_set_client_address(dengine_config* config,
                                      const char* address) {
  return configure(config, "dengine_config_set_client_address",
                   [&](NodeOptions& o) -> std::string {
                     std::string error = check_address(address, true);
                     if (error.empty()) o.client_address = address;
                     return error;
                   });
}

int dengine_config_add_peer_client_address(dengine_config* config, uint64_t id,
                                           const char* address) {
  return configure(config, "dengine_config_add_peer_client_address",
                   [&](NodeOptions& o) -> std::string {
                     if (id == 0) return "peer id must be positive";
                     std::string error = check_address(address, false);
                     if (error.empty()) o.client_addresses[id] = address;
                     return error;
                   });
}

int dengine_config_set_initial_voters(dengine_config* config,
                                      const uint64_t* ids, size_t count) {
  return configure(config, "dengine_config_set_initial_voters",
                   [&](NodeOptions& o) -> std::string {
                     if (ids == nullptr && count > 0) return "ids is NULL";
                     o.initial_voters.assign(ids, ids + count);
                     return "";
                   });
}

int dengine_config_set_storage(dengine_config* config, int storage) {
  return configure(config, "dengine_config_set_storage",
                   [&](NodeOptions& o) -> std::string {
                     if (storage == DENGINE_STORAGE_WAL) {
                       o.log_backend = dengine::node::LogBackend::kWal;
                     } else if (storage == DENGINE_STORAGE_ROCKSDB) {
                       o.log_backend = dengine::node::LogBackend::kRocksDb;
                     } else {
                       return "storage must be DENGINE_STORAGE_WAL or "
                              "DENGINE_STORAGE_ROCKSDB";
                     }
                     return "";
                   });
}

int dengine_config_set_state_machine(dengine_config* config,
                                     const dengine_state_machine* machine) {
  return configure(
      config, "dengine_config_set_state_machine",
      [&](NodeOptions& o) -> std::string {
        dengine_state_machine read{};
        if (std::string e = dengine::sm::read_versioned(
                "machine", machine, DENGINE_STATE_MACHINE_VERSION, &read);
            !e.empty()) {
          return e;
        }
        if (read.apply_chunk == nullptr || read.generate_snapshot == nullptr ||
            read.install_snapshot == nullptr) {
          return "apply_chunk, generate_snapshot and install_snapshot are "
                 "required";
        }
        o.machine = read;
        return "";
      });
}

int dengine_config_set_kv_backend(dengine_config* config, int backend) {
  return configure(
      config, "dengine_config_set_kv_backend",
      [&](NodeOptions& o) -> std::string {
        if (backend != DENGINE_KV_ROCKSDB && backend != DENGINE_KV_FILE) {
          return "backend must be DENGINE_KV_ROCKSDB or "
                 "DENGINE_KV_FILE";
        }
        o.kv_backend = backend;
        return "";
      });
}

int dengine_config_set_timing(dengine_config* config, uint32_t tick_ms,
                              uint32_t election_ticks,
                              uint32_t heartbeat_ticks) {
  return configure(
      config, "dengine_config_set_timing", [&](NodeOptions& o) -> std::string {
        if (tick_ms < 1 || tick_ms > 10'000) return "tick_ms must be 1-10000";
        if (heartbeat_ticks < 1 || heartbeat_ticks > 1'000) {
          return "heartbeat_ticks must be 1-1000";
        }
        if (election_ticks <= heartbeat_ticks || election_ticks > 10'000) {
          return "election_ticks must exceed heartbeat_ticks (at most 10000)";
        }
        o.tick_interval = std::chrono::milliseconds(tick_ms);
        o.election_ticks = static_cast<int>(election_ticks);
        o.heartbeat_ticks = static_cast<int>(heartbeat_ticks);
        return "";
      });
}

int dengine_config_set_default_read(dengine_config* config, int consistency) {
  return configure(config, "dengine_config_set_default_read",
                   [&](NodeOptions& o) -> std::string {
                     using dengine::node::ReadConsistency;
                     switch (consistency) {
                       case DENGINE_READ_LINEARIZABLE:
                         o.default_read = ReadConsistency::kLinearizable;
                         return "";
                       case DENGINE_READ_LEASE:
                         o.default_read = ReadConsistency::kLease;
                         return "";
                       case DENGINE_READ_EVENTUAL:
                         o.default_read = ReadConsistency::kEventual;
                         return "";
                       default:
                         return "consistency must be DENGINE_READ_"
                                "LINEARIZABLE, _LEASE or _EVENTUAL";
                     }
                   });
}

int dengine_config_set_snapshot_policy(dengine_config* config, uint64_t entries,
                                       uint64_t bytes) {
  return configure(config, "dengine_config_set_snapshot_policy",
                   [&](NodeOptions& o) -> std::string {
                     o.snapshot_policy = {entries, bytes};
                     return "";
                   });
}

int dengine_config_set_max_entry_bytes(dengine_config* config, uint64_t bytes) {
  return configure(config, "dengine_config_set_max_entry_bytes",
                   [&](NodeOptions& o) -> std::string {
                     if (bytes == 0) return "bytes must be positive";
                     o.max_entry_bytes = bytes;
                     return "";
                   });
}

}  // extern "C"
