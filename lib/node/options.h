// A node's options and every rule they keep. Each option has one name, the
// same in the C setters (dengine_config_set_<name>), the TOML file
// (<section>.<name>, docs/operations.md), Python's keyword arguments and Go's
// Config fields; errors name options by it. The rules are written here only:
// per-field checks, which the C setters and the TOML loader call as each
// value arrives, and check(), which applies all of them and the rules across
// fields when a node starts.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dengine.h"
#include "net/tls_context.h"
#include "raft/types.h"
#include "sm/snapshot_policy.h"
#include "watch/history.h"

namespace dengine::node {

enum class LogBackend : uint8_t {
  kWal,      // the segmented WAL (default): fastest group commit
  kRocksDb,  // log and hard state in one RocksDB database
};

enum class ReadConsistency : uint8_t {
  kLinearizable,  // ReadIndex: one quorum round, shared by concurrent reads
  kLease,         // served by the leader while its lease holds
  kEventual,      // this node's applied state, no round trip; may be stale
};

const char* to_string(ReadConsistency consistency);

struct Member {
  raft::NodeId id = raft::kNoNode;
  std::string address;  // "host:port" of its peer listener
  bool voter = true;

  bool operator==(const Member&) const = default;
};

// A broken rule: the option it concerns, by its one name ("peer_address",
// "election_ticks"), and what is wrong ("must be between 3 and 10000, got 2").
struct OptionError {
  std::string option;
  std::string problem;

  std::string to_string() const { return option + ": " + problem; }
};

// TLS for the peer transport and the client listener (docs/operations.md,
// "TLS"). Off while no file is named; on, a node needs all three files: it
// presents its certificate to peers both ways and to clients.
struct TlsSettings {
  net::TlsOptions files;  // cert_file, key_file, ca_file, min_version
  // Clients must present a certificate chaining to ca_file; then only those
  // whose certificate's common name is in admin_identities may run admin
  // operations (membership, leadership transfer, snapshot).
  bool require_client_cert = false;
  std::vector<std::string> admin_identities;

  bool enabled() const {
    return !files.cert_file.empty() || !files.key_file.empty() ||
           !files.ca_file.empty();
  }
};

struct NodeOptions {
  // Option: id.
  raft::NodeId id = raft::kNoNode;
  // Option: cluster_id. Nodes of different clusters refuse each other's
  // connections.
  uint64_t cluster_id = 1;
  // Option: data_dir. Everything this node stores lives here (created if
  // missing).
  std::string data_dir;
  // Option: peer_address. "host:port" this node listens on for peers (port
  // 0: any free port).
  std::string listen_address = "127.0.0.1:0";
  // Option: peers (with client_addresses). Addresses of other nodes this node
  // may need to talk to before it learns them from the log (a member's
  // address also travels in the membership change that adds it).
  std::vector<Member> peers;
  // Option: initial_voters. The voters of a brand-new cluster, this node
  // included; used only when data_dir holds no state yet. Empty: the node
  // waits to be added to an existing cluster (or restarts from its data).
  std::vector<raft::NodeId> initial_voters;

  // Option: client_address. "host:port" to serve clients on
  // (docs/client-protocol.md), as dengined does; empty: no client listener.
  std::string client_address;
  // The other nodes' client addresses (part of the option peers), so a
  // NOT_LEADER answer can say where the leader is.
  std::map<raft::NodeId, std::string> client_addresses;

  // Option: log_backend.
  LogBackend log_backend = LogBackend::kWal;
  // Option: state_machine. The application's machine (its user pointer must
  // outlive the node), or nullopt for the built-in KV machine stored under
  // data_dir.
  std::optional<dengine_state_machine> machine;
  // Option: kv_backend. The built-in machine's backend.
  int kv_backend = DENGINE_KV_ROCKSDB;

  // Options: tick_ms, election_ticks (an election timeout is election_ticks
  // to twice that), heartbeat_ticks, default_read.
  // The defaults elect a new leader 150-300 ms after the old one stops
  // answering (docs/operations.md "[raft]" has the trade-off).
  std::chrono::milliseconds tick_interval{10};
  int election_ticks = 15;
  int heartbeat_ticks = 3;
  ReadConsistency default_read = ReadConsistency::kLinearizable;
  // Options: snapshot_entries, snapshot_bytes (any value: 0 disables that
  // threshold), snapshots_kept, max_entry_bytes (the largest entry a
  // proposal may carry).
  sm::SnapshotPolicy snapshot_policy;
  int snapshots_kept = 2;
  uint64_t max_entry_bytes = 16ull << 20;
  // Options: watch_history_events, watch_history_bytes: how many recent
  // events (and bytes of them) the node keeps for watches that start in the
  // past; the older ones are dropped, oldest revision first.
  watch::HistoryLimits watch_history;
  // Options: tls_cert_file, tls_key_file, tls_ca_file, tls_min_version,
  // tls_require_client_cert, tls_admin_identities (in TOML: [tls] cert_file
  // and so on). The files are read when the node starts and again by
  // Node::reload_tls.
  TlsSettings tls;

  // The rules of single values: "" when the value may be stored, else what
  // is wrong with it, without the option's name (the caller knows which it
  // sets). Options not listed take any value of their type.
  static std::string check_id(uint64_t id);  // also every peer's and voter's
  static std::string check_data_dir(std::string_view dir);
  // This node's own addresses (peer_address, client_address): port 0 asks
  // for any free port.
  static std::string check_listen_address(std::string_view address);
  // Another node's address: a port is required.
  static std::string check_member_address(std::string_view address);
  // The peers and their client addresses: valid ids and addresses, no id
  // twice, no address used twice.
  static std::string check_peers(
      const std::vector<Member>& peers,
      const std::map<raft::NodeId, std::string>& client_addresses);
  // Valid ids, none twice.
  static std::string check_initial_voters(
      const std::vector<raft::NodeId>& voters);
  static std::string check_state_machine(const dengine_state_machine& machine);
  static std::string check_kv_backend(int backend);
  static std::string check_tick_ms(uint64_t ms);
  static std::string check_election_ticks(uint64_t ticks);
  static std::string check_heartbeat_ticks(uint64_t ticks);
  static std::string check_snapshots_kept(uint64_t count);
  static std::string check_max_entry_bytes(uint64_t bytes);
  static std::string check_watch_history_events(uint64_t count);
  static std::string check_watch_history_bytes(uint64_t bytes);
  // tls_cert_file, tls_key_file, tls_ca_file: a path, not empty.
  static std::string check_tls_file(std::string_view path);
  // tls_min_version: "1.2" or "1.3".
  static std::string tls_version_of(std::string_view text,
                                    net::TlsVersion* out);
  // One of tls_admin_identities: a certificate common name, not empty.
  static std::string check_tls_admin_identity(std::string_view identity);

  // The C API's DENGINE_STORAGE_* and DENGINE_READ_* values (LINEARIZABLE,
  // LEASE, EVENTUAL) as the options hold them: "" or what is wrong.
  static std::string log_backend_of(int value, LogBackend* out);
  static std::string read_consistency_of(int value, ReadConsistency* out);

  // Adds a peer, or replaces the address of the peer with this id; sets a
  // peer's client address. Done only if the peers keep check_peers: "" or
  // what is wrong (and nothing changed).
  std::string add_peer(raft::NodeId peer, std::string_view address);
  std::string add_peer_client_address(raft::NodeId peer,
                                      std::string_view address);

  // Every rule, of each value and across values: nullopt when the options
  // can start a node, else the first rule broken.
  std::optional<OptionError> check() const;
  // check() as text: empty when usable, else "option: problem".
  std::string validate() const;
};

}  // namespace dengine::node
