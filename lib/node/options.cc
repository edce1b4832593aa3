#include "node/options.h"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "net/address.h"
#include "net/frame.h"
#include "sm/versioned_struct.h"

namespace dengine::node {
namespace {

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

std::string check_range(uint64_t value, uint64_t min, uint64_t max) {
  if (value >= min && value <= max) return "";
  const std::string got = ", got " + std::to_string(value);
  if (max == kNoLimit) return "must be at least " + std::to_string(min) + got;
  return "must be between " + std::to_string(min) + " and " +
         std::to_string(max) + got;
}

std::string check_address(std::string_view address, bool allow_any_port) {
  net::HostPort parsed;
  return net::parse_address(address, allow_any_port, &parsed);
}

// A field held signed, through the check of its unsigned values.
std::string check_signed(int64_t value, std::string (*check)(uint64_t)) {
  if (value < 0) return "must not be negative, got " + std::to_string(value);
  return check(static_cast<uint64_t>(value));
}

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::optional<OptionError> broken(std::string_view option,
                                  std::string problem) {
  if (problem.empty()) return std::nullopt;
  return OptionError{std::string(option), std::move(problem)};
}

}  // namespace

const char* to_string(ReadConsistency consistency) {
  switch (consistency) {
    case ReadConsistency::kLinearizable:
      return "linearizable";
    case ReadConsistency::kLease:
      return "lease";
    case ReadConsistency::kEventual:
      return "eventual";
  }
  return "unknown";
}

std::string NodeOptions::check_id(uint64_t id) {
  return check_range(id, 1, kNoLimit);
}

std::string NodeOptions::check_data_dir(std::string_view dir) {
  return dir.empty() ? "must not be empty" : "";
}

std::string NodeOptions::check_listen_address(std::string_view address) {
  return check_address(address, /*allow_any_port=*/true);
}

std::string NodeOptions::check_member_address(std::string_view address) {
  return check_address(address, /*allow_any_port=*/false);
}

std::string NodeOptions::check_peers(
    const std::vector<Member>& peers,
    const std::map<raft::NodeId, std::string>& client_addresses) {
  // Every address in use, with the peer it belongs to.
  std::vector<std::pair<std::string_view, raft::NodeId>> used;
  auto use = [&](std::string_view address, raft::NodeId owner) -> std::string {
    if (std::string e = check_member_address(address); !e.empty()) {
      return "peer " + std::to_string(owner) + ": " + e;
    }
    for (const auto& [other_address, other] : used) {
      if (other_address != address) continue;
      return "address " + quoted(address) + " is listed twice (" +
             (other == owner ? "peer " + std::to_string(owner)
                             : "peers " + std::to_string(other) + " and " +
                                   std::to_string(owner)) +
             ")";
    }
    used.emplace_back(address, owner);
    return "";
  };
  std::set<raft::NodeId> seen;
  for (const Member& peer : peers) {
    if (std::string e = check_id(peer.id); !e.empty()) {
      return "a peer id " + e;
    }
    if (!seen.insert(peer.id).second) {
      return "peer id " + std::to_string(peer.id) + " is listed twice";
    }
    if (std::string e = use(peer.address, peer.id); !e.empty()) return e;
    if (const auto it = client_addresses.find(peer.id);
        it != client_addresses.end()) {
      if (std::string e = use(it->second, peer.id); !e.empty()) return e;
    }
  }
  // Client addresses of nodes not (yet) among the peers.
  for (const auto& [id, address] : client_addresses) {
    if (seen.contains(id)) continue;
    if (std::string e = check_id(id); !e.empty()) return "a peer id " + e;
    if (std::string e = use(address, id); !e.empty()) return e;
  }
  return "";
}

std::string NodeOptions::check_initial_voters(
    const std::vector<raft::NodeId>& voters) {
  std::set<raft::NodeId> seen;
  for (raft::NodeId voter : voters) {
    if (std::string e = check_id(voter); !e.empty()) return "a voter id " + e;
    if (!seen.insert(voter).second) {
      return "node " + std::to_string(voter) + " is listed twice";
    }
  }
  return "";
}

std::string NodeOptions::check_state_machine(
    const dengine_state_machine& machine) {
  if (machine.apply_chunk == nullptr || machine.generate_snapshot == nullptr ||
      machine.install_snapshot == nullptr) {
    return "apply_chunk, generate_snapshot and install_snapshot are required";
  }
  return "";
}

std::string NodeOptions::check_kv_backend(int backend) {
  if (backend == DENGINE_KV_ROCKSDB || backend == DENGINE_KV_FILE) return "";
  return "must be DENGINE_KV_ROCKSDB or DENGINE_KV_FILE, got " +
         std::to_string(backend);
}

std::string NodeOptions::check_tick_ms(uint64_t ms) {
  return check_range(ms, 1, 10'000);
}

std::string NodeOptions::check_election_ticks(uint64_t ticks) {
  // Above the lease margin of raft::Config (lease_drift_ticks = 2): a
  // leader's lease lasts election_ticks - 2 ticks.
  return check_range(ticks, 3, 10'000);
}

std::string NodeOptions::check_heartbeat_ticks(uint64_t ticks) {
  return check_range(ticks, 1, 10'000);
}

std::string NodeOptions::check_snapshots_kept(uint64_t count) {
  return check_range(count, 1, 1'000);
}

std::string NodeOptions::check_max_entry_bytes(uint64_t bytes) {
  // An entry and the message around it must fit in one peer frame.
  return check_range(bytes, 1, net::kDefaultMaxFramePayload - (1u << 20));
}

std::string NodeOptions::check_watch_history_events(uint64_t count) {
  return check_range(count, 1, 100'000'000);
}

std::string NodeOptions::check_watch_history_bytes(uint64_t bytes) {
  return check_range(bytes, 4096, 1ull << 40);
}

std::string NodeOptions::check_tls_file(std::string_view path) {
  return path.empty() ? "must not be empty" : "";
}

std::string NodeOptions::tls_version_of(std::string_view text,
                                        net::TlsVersion* out) {
  if (text == "1.2") {
    *out = net::TlsVersion::k1_2;
  } else if (text == "1.3") {
    *out = net::TlsVersion::k1_3;
  } else {
    return "must be \"1.2\" or \"1.3\", got " + quoted(text);
  }
  return "";
}

std::string NodeOptions::check_tls_admin_identity(std::string_view identity) {
  return identity.empty() ? "an identity must not be empty" : "";
}

namespace {

// The TLS options whole: all three files or none, and the client rules only
// with them.
std::optional<OptionError> check_tls(const TlsSettings& tls) {
  if (!tls.enabled()) {
    if (tls.require_client_cert) {
      return OptionError{"tls_require_client_cert",
                         "needs tls_cert_file, tls_key_file and tls_ca_file"};
    }
    if (!tls.admin_identities.empty()) {
      return OptionError{"tls_admin_identities",
                         "needs tls_cert_file, tls_key_file and tls_ca_file"};
    }
    return std::nullopt;
  }
  const std::pair<const char*, const std::string*> files[] = {
      {"tls_cert_file", &tls.files.cert_file},
      {"tls_key_file", &tls.files.key_file},
      {"tls_ca_file", &tls.files.ca_file}};
  for (const auto& [option, path] : files) {
    if (path->empty()) {
      return OptionError{option,
                         "missing: TLS needs tls_cert_file, tls_key_file and "
                         "tls_ca_file (a node presents its certificate to "
                         "peers and clients)"};
    }
  }
  if (!tls.admin_identities.empty() && !tls.require_client_cert) {
    return OptionError{"tls_admin_identities",
                       "needs tls_require_client_cert = true: identities "
                       "come from client certificates"};
  }
  for (const std::string& identity : tls.admin_identities) {
    if (std::string problem = NodeOptions::check_tls_admin_identity(identity);
        !problem.empty()) {
      return OptionError{"tls_admin_identities", problem};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string NodeOptions::log_backend_of(int value, LogBackend* out) {
  switch (value) {
    case DENGINE_STORAGE_WAL:
      *out = LogBackend::kWal;
      return "";
    case DENGINE_STORAGE_ROCKSDB:
      *out = LogBackend::kRocksDb;
      return "";
  }
  return "must be DENGINE_STORAGE_WAL or DENGINE_STORAGE_ROCKSDB, got " +
         std::to_string(value);
}

std::string NodeOptions::read_consistency_of(int value, ReadConsistency* out) {
  switch (value) {
    case DENGINE_READ_LINEARIZABLE:
      *out = ReadConsistency::kLinearizable;
      return "";
    case DENGINE_READ_LEASE:
      *out = ReadConsistency::kLease;
      return "";
    case DENGINE_READ_EVENTUAL:
      *out = ReadConsistency::kEventual;
      return "";
  }
  return "must be DENGINE_READ_LINEARIZABLE, _LEASE or _EVENTUAL, got " +
         std::to_string(value);
}

std::string NodeOptions::add_peer(raft::NodeId peer, std::string_view address) {
  std::vector<Member> after = peers;
  const auto it = std::find_if(after.begin(), after.end(),
                               [&](const Member& m) { return m.id == peer; });
  if (it != after.end()) {
    it->address = std::string(address);
  } else {
    after.push_back({peer, std::string(address), true});
  }
  if (std::string e = check_peers(after, client_addresses); !e.empty()) {
    return e;
  }
  peers = std::move(after);
  return "";
}

std::string NodeOptions::add_peer_client_address(raft::NodeId peer,
                                                 std::string_view address) {
  std::map<raft::NodeId, std::string> after = client_addresses;
  after[peer] = std::string(address);
  if (std::string e = check_peers(peers, after); !e.empty()) return e;
  client_addresses = std::move(after);
  return "";
}

std::optional<OptionError> NodeOptions::check() const {
  if (id == raft::kNoNode) {
    return broken("id", "missing: every node needs a node id");
  }
  if (data_dir.empty()) {
    return broken("data_dir", "missing: every node needs a data directory");
  }
  if (auto e = broken("peer_address", check_listen_address(listen_address))) {
    return e;
  }
  if (!client_address.empty()) {
    if (auto e =
            broken("client_address", check_listen_address(client_address))) {
      return e;
    }
    net::HostPort client;
    net::parse_address(client_address, true, &client);
    // Both at port 0 are two different free ports.
    if (client_address == listen_address && client.port != 0) {
      return broken("client_address", "must differ from peer_address (" +
                                          quoted(listen_address) + ")");
    }
  }
  if (auto e = broken("peers", check_peers(peers, client_addresses))) return e;
  for (const Member& peer : peers) {
    if (peer.id == id) {
      return broken("peers", "peer " + std::to_string(peer.id) +
                                 " is this node (id); list only the other "
                                 "nodes");
    }
    if (peer.address == listen_address) {
      return broken("peers", "peer " + std::to_string(peer.id) +
                                 " has this node's own address " +
                                 quoted(peer.address) + " (peer_address)");
    }
  }
  for (const auto& [peer, address] : client_addresses) {
    if (address == client_address || address == listen_address) {
      return broken("peers", "peer " + std::to_string(peer) +
                                 " has this node's own address " +
                                 quoted(address) + " as its client address");
    }
  }
  if (auto e = broken("initial_voters", check_initial_voters(initial_voters))) {
    return e;
  }
  if (!initial_voters.empty()) {
    if (std::find(initial_voters.begin(), initial_voters.end(), id) ==
        initial_voters.end()) {
      return broken("initial_voters",
                    "must contain this node (id " + std::to_string(id) +
                        "); leave it empty to join an existing cluster "
                        "instead");
    }
    for (raft::NodeId voter : initial_voters) {
      const bool known = voter == id || std::any_of(peers.begin(), peers.end(),
                                                    [&](const Member& peer) {
                                                      return peer.id == voter;
                                                    });
      if (!known) {
        return broken("initial_voters", "voter " + std::to_string(voter) +
                                            " has no address in peers");
      }
    }
  }
  if (machine.has_value()) {
    if (auto e = broken("state_machine", check_state_machine(*machine))) {
      return e;
    }
  } else if (auto e = broken("kv_backend", check_kv_backend(kv_backend))) {
    return e;
  }
  if (auto e = broken("tick_ms",
                      check_signed(tick_interval.count(), &check_tick_ms))) {
    return e;
  }
  if (auto e = broken("election_ticks",
                      check_signed(election_ticks, &check_election_ticks))) {
    return e;
  }
  if (auto e = broken("heartbeat_ticks",
                      check_signed(heartbeat_ticks, &check_heartbeat_ticks))) {
    return e;
  }
  if (election_ticks <= heartbeat_ticks) {
    return broken("election_ticks", "must be greater than heartbeat_ticks (" +
                                        std::to_string(heartbeat_ticks) +
                                        "), got " +
                                        std::to_string(election_ticks));
  }
  if (auto e = broken("snapshots_kept",
                      check_signed(snapshots_kept, &check_snapshots_kept))) {
    return e;
  }
  if (auto e =
          broken("max_entry_bytes", check_max_entry_bytes(max_entry_bytes))) {
    return e;
  }
  if (auto e = broken("watch_history_events",
                      check_watch_history_events(watch_history.max_events))) {
    return e;
  }
  if (auto e = broken("watch_history_bytes",
                      check_watch_history_bytes(watch_history.max_bytes))) {
    return e;
  }
  return check_tls(tls);
}

std::string NodeOptions::validate() const {
  const std::optional<OptionError> error = check();
  return error ? error->to_string() : "";
}

}  // namespace dengine::node
