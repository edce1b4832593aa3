// dengined's configuration: the file, its defaults, the environment
// overrides, and an error that names the place and the key for every kind
// of mistake.
#include "dengined/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace dengine::server {
namespace {

using std::chrono::milliseconds;

// The keys without defaults, with nothing else.
constexpr std::string_view kMinimal = R"([node]
id = 1
data_dir = "/var/lib/dengine"
peer_address = "127.0.0.1:7001"
client_address = "127.0.0.1:8001"
)";

std::string with_minimal(std::string_view more) {
  return std::string(kMinimal) + std::string(more);
}

ServerConfig parse_ok(std::string_view text, const Environment& env = {}) {
  ServerConfig config;
  std::string error;
  EXPECT_TRUE(parse_config(text, "node.toml", env, &config, &error)) << error;
  return config;
}

std::string parse_error(std::string_view text, const Environment& env = {}) {
  ServerConfig config;
  std::string error;
  EXPECT_FALSE(parse_config(text, "node.toml", env, &config, &error));
  return error;
}

TEST(ServerConfigTest, FullConfig) {
  const ServerConfig config = parse_ok(R"(
[node]
id = 2
cluster_id = 7
data_dir = "./data/node2"
peer_address = "127.0.0.1:7002"
client_address = "0.0.0.0:8002"

[cluster]
initial_voters = [1, 2, 3]
peers = [ { id = 1, address = "127.0.0.1:7001", client_address = "h1:8001" },
          { id = 3, address = "[::1]:7003" } ]

[storage]
log_backend = "rocksdb"
state_machine = "file"
snapshot_entries = 5000
snapshot_bytes = "32MiB"
snapshots_kept = 3
max_entry_bytes = 1048576

[raft]
tick_ms = 20
election_ticks = 15
heartbeat_ticks = 3
default_read = "lease"

[log]
level = "debug"
)");
  const node::NodeOptions& node = config.node;
  EXPECT_EQ(node.id, 2u);
  EXPECT_EQ(node.cluster_id, 7u);
  EXPECT_EQ(node.data_dir, "./data/node2");
  EXPECT_EQ(node.listen_address, "127.0.0.1:7002");
  EXPECT_EQ(config.client_address, "0.0.0.0:8002");
  EXPECT_EQ(config.client_addresses,
            (std::map<raft::NodeId, std::string>{{1, "h1:8001"}}));
  EXPECT_EQ(node.initial_voters, (std::vector<raft::NodeId>{1, 2, 3}));
  EXPECT_EQ(node.peers, (std::vector<node::Member>{{1, "127.0.0.1:7001", true},
                                                   {3, "[::1]:7003", true}}));
  EXPECT_EQ(node.log_backend, node::LogBackend::kRocksDb);
  EXPECT_FALSE(node.machine.has_value());
  EXPECT_EQ(node.kv_backend, DENGINE_KV_FILE);
  EXPECT_EQ(node.snapshot_policy.entries, 5000u);
  EXPECT_EQ(node.snapshot_policy.bytes, 32u << 20);
  EXPECT_EQ(node.snapshots_kept, 3);
  EXPECT_EQ(node.max_entry_bytes, 1u << 20);
  EXPECT_EQ(node.tick_interval, milliseconds(20));
  EXPECT_EQ(node.election_ticks, 15);
  EXPECT_EQ(node.heartbeat_ticks, 3);
  EXPECT_EQ(node.default_read, node::ReadConsistency::kLease);
  EXPECT_EQ(config.log_level, DENGINE_LOG_DEBUG);
  EXPECT_EQ(config.source, "node.toml");
}

TEST(ServerConfigTest, EveryDefault) {
  const ServerConfig config = parse_ok(kMinimal);
  const node::NodeOptions& node = config.node;
  EXPECT_EQ(node.cluster_id, 1u);
  EXPECT_TRUE(node.initial_voters.empty());  // joins an existing cluster
  EXPECT_TRUE(node.peers.empty());
  EXPECT_TRUE(config.client_addresses.empty());
  EXPECT_EQ(node.log_backend, node::LogBackend::kWal);
  EXPECT_EQ(node.kv_backend, DENGINE_KV_ROCKSDB);
  EXPECT_EQ(node.snapshot_policy.entries, 10'000u);
  EXPECT_EQ(node.snapshot_policy.bytes, 64u << 20);
  EXPECT_EQ(node.snapshots_kept, 2);
  EXPECT_EQ(node.max_entry_bytes, 16u << 20);
  EXPECT_EQ(node.tick_interval, milliseconds(50));
  EXPECT_EQ(node.election_ticks, 10);
  EXPECT_EQ(node.heartbeat_ticks, 2);
  EXPECT_EQ(node.default_read, node::ReadConsistency::kLinearizable);
  EXPECT_EQ(config.log_level, DENGINE_LOG_INFO);
}

TEST(ServerConfigTest, PeersAsArrayOfTables) {
  const ServerConfig config = parse_ok(with_minimal(R"(
[cluster]
initial_voters = [1, 2]

[[cluster.peers]]
id = 2
address = "node2.example:7002"
)"));
  EXPECT_EQ(config.node.peers,
            (std::vector<node::Member>{{2, "node2.example:7002", true}}));
}

TEST(ServerConfigTest, SizesTakeBinaryUnits) {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"0", 0},
      {"4096", 4096},
      {"\"4096\"", 4096},
      {"\"512B\"", 512},
      {"\"1KiB\"", 1024},
      {"\"3 MiB\"", 3u << 20},
      {"\"2GiB\"", 2ull << 30},
      {"\"1TiB\"", 1ull << 40},
  };
  for (const auto& [written, bytes] : cases) {
    const ServerConfig config =
        parse_ok(with_minimal("[storage]\nsnapshot_bytes = " + written + "\n"));
    EXPECT_EQ(config.node.snapshot_policy.bytes, bytes) << written;
  }
}

TEST(ServerConfigTest, EachEnvironmentVariableOverridesTheFile) {
  struct Case {
    std::string variable;
    std::string value;
    std::function<bool(const ServerConfig&)> applied;
  };
  const std::vector<Case> cases = {
      {"DENGINE_NODE_ID", "3", [](auto& c) { return c.node.id == 3; }},
      {"DENGINE_NODE_CLUSTER_ID", "9",
       [](auto& c) { return c.node.cluster_id == 9; }},
      {"DENGINE_NODE_DATA_DIR", "/srv/d",
       [](auto& c) { return c.node.data_dir == "/srv/d"; }},
      {"DENGINE_NODE_PEER_ADDRESS", "10.0.0.1:7101",
       [](auto& c) { return c.node.listen_address == "10.0.0.1:7101"; }},
      {"DENGINE_NODE_CLIENT_ADDRESS", "10.0.0.1:8101",
       [](auto& c) { return c.client_address == "10.0.0.1:8101"; }},
      {"DENGINE_CLUSTER_INITIAL_VOTERS", "1, 2,3",
       [](auto& c) {
         return c.node.initial_voters == std::vector<raft::NodeId>{1, 2, 3};
       }},
      {"DENGINE_CLUSTER_PEERS", "2=127.0.0.1:7102/127.0.0.1:8102, 4=h:7104",
       [](auto& c) {
         return c.node.peers ==
                    std::vector<node::Member>{{2, "127.0.0.1:7102", true},
                                              {4, "h:7104", true}} &&
                c.client_addresses ==
                    std::map<raft::NodeId, std::string>{{2, "127.0.0.1:8102"}};
       }},
      {"DENGINE_STORAGE_LOG_BACKEND", "rocksdb",
       [](auto& c) {
         return c.node.log_backend == node::LogBackend::kRocksDb;
       }},
      {"DENGINE_STORAGE_STATE_MACHINE", "file",
       [](auto& c) { return c.node.kv_backend == DENGINE_KV_FILE; }},
      {"DENGINE_STORAGE_SNAPSHOT_ENTRIES", "0",
       [](auto& c) { return c.node.snapshot_policy.entries == 0; }},
      {"DENGINE_STORAGE_SNAPSHOT_BYTES", "8MiB",
       [](auto& c) { return c.node.snapshot_policy.bytes == 8u << 20; }},
      {"DENGINE_STORAGE_SNAPSHOTS_KEPT", "5",
       [](auto& c) { return c.node.snapshots_kept == 5; }},
      {"DENGINE_STORAGE_MAX_ENTRY_BYTES", "65536",
       [](auto& c) { return c.node.max_entry_bytes == 65536; }},
      {"DENGINE_RAFT_TICK_MS", "100",
       [](auto& c) { return c.node.tick_interval == milliseconds(100); }},
      {"DENGINE_RAFT_ELECTION_TICKS", "20",
       [](auto& c) { return c.node.election_ticks == 20; }},
      {"DENGINE_RAFT_HEARTBEAT_TICKS", "4",
       [](auto& c) { return c.node.heartbeat_ticks == 4; }},
      {"DENGINE_RAFT_DEFAULT_READ", "eventual",
       [](auto& c) {
         return c.node.default_read == node::ReadConsistency::kEventual;
       }},
      {"DENGINE_LOG_LEVEL", "error",
       [](auto& c) { return c.log_level == DENGINE_LOG_ERROR; }},
  };
  // A file that sets every key, so each variable visibly replaces a value.
  const std::string file = R"([node]
id = 1
cluster_id = 1
data_dir = "./d"
peer_address = "127.0.0.1:7001"
client_address = "127.0.0.1:8001"
[cluster]
initial_voters = [1, 2]
peers = [{ id = 2, address = "127.0.0.1:7002" },
         { id = 3, address = "127.0.0.1:7003" }]
[storage]
log_backend = "wal"
state_machine = "rocksdb"
snapshot_entries = 100
snapshot_bytes = 100
snapshots_kept = 1
max_entry_bytes = 100
[raft]
tick_ms = 10
election_ticks = 10
heartbeat_ticks = 1
default_read = "linearizable"
[log]
level = "info"
)";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.variable);
    Environment env{{c.variable, c.value}};
    // The voters name the node, so a new id joins them.
    if (c.variable == "DENGINE_NODE_ID") {
      env["DENGINE_CLUSTER_INITIAL_VOTERS"] = "2,3";
      env["DENGINE_CLUSTER_PEERS"] = "1=127.0.0.1:7011,2=127.0.0.1:7002";
    }
    EXPECT_FALSE(c.applied(parse_ok(file)));
    EXPECT_TRUE(c.applied(parse_ok(file, env)));
  }
}

TEST(ServerConfigTest, EnvironmentAloneSuffices) {
  const ServerConfig config =
      parse_ok("", {{"DENGINE_NODE_ID", "4"},
                    {"DENGINE_NODE_DATA_DIR", "/d"},
                    {"DENGINE_NODE_PEER_ADDRESS", "127.0.0.1:7004"},
                    {"DENGINE_NODE_CLIENT_ADDRESS", "127.0.0.1:8004"}});
  EXPECT_EQ(config.node.id, 4u);
}

TEST(ServerConfigTest, EmptyListsFromTheEnvironmentClearTheFile) {
  const ServerConfig config = parse_ok(
      with_minimal(R"(
[cluster]
initial_voters = [1, 2]
peers = [{ id = 2, address = "127.0.0.1:7002" }]
)"),
      {{"DENGINE_CLUSTER_INITIAL_VOTERS", ""}, {"DENGINE_CLUSTER_PEERS", ""}});
  EXPECT_TRUE(config.node.initial_voters.empty());
  EXPECT_TRUE(config.node.peers.empty());
}

TEST(ServerConfigTest, OtherVariablesAreIgnored) {
  parse_ok(kMinimal, {{"DENGINE_REWRITE", "1"},
                      {"DENGINE_NODES", "x"},
                      {"PATH", "/bin"},
                      {"NODE_ID", "x"}});
}

TEST(ServerConfigTest, FailureLeavesTheOutputAlone) {
  ServerConfig config;
  config.client_address = "unchanged";
  std::string error;
  EXPECT_FALSE(
      parse_config("[node]\nid = 0\n", "node.toml", {}, &config, &error));
  EXPECT_EQ(config.client_address, "unchanged");
}

TEST(ServerConfigTest, ProcessEnvironmentHoldsTheDengineVariables) {
  ASSERT_EQ(setenv("DENGINE_CONFIG_TEST_PROBE", "a=b", 1), 0);
  const Environment env = process_environment();
  unsetenv("DENGINE_CONFIG_TEST_PROBE");
  ASSERT_TRUE(env.contains("DENGINE_CONFIG_TEST_PROBE"));
  EXPECT_EQ(env.at("DENGINE_CONFIG_TEST_PROBE"), "a=b");
  for (const auto& [name, value] : env) {
    EXPECT_EQ(name.rfind("DENGINE_", 0), 0u) << name;
  }
}

void write_file(const std::string& path, const std::string& text) {
  std::FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(std::fwrite(text.data(), 1, text.size(), file), text.size());
  EXPECT_EQ(std::fclose(file), 0);
}

TEST(ServerConfigTest, LoadsAFileAndNamesItInErrors) {
  const std::string path = ::testing::TempDir() + "dengine-config-test-" +
                           std::to_string(getpid()) + ".toml";
  ServerConfig config;
  std::string error;
  write_file(path, with_minimal("[raft]\ntick_ms = 10\n"));
  EXPECT_TRUE(
      load_config(path, {{"DENGINE_RAFT_TICK_MS", "25"}}, &config, &error))
      << error;
  EXPECT_EQ(config.source, path);
  EXPECT_EQ(config.node.tick_interval, milliseconds(25));

  // A mistake in the file is reported even when a variable would replace
  // the value: the file itself must be right.
  write_file(path, with_minimal("[raft]\ntick_ms = \"fast\"\n"));
  EXPECT_FALSE(
      load_config(path, {{"DENGINE_RAFT_TICK_MS", "25"}}, &config, &error));
  EXPECT_EQ(error,
            path + ":7:11: raft.tick_ms: expected an integer, got a string");
  std::remove(path.c_str());

  EXPECT_FALSE(load_config(path, {}, &config, &error));
  EXPECT_EQ(error, "cannot open " + path + ": No such file or directory");
  EXPECT_FALSE(load_config(::testing::TempDir(), {}, &config, &error));
  EXPECT_EQ(error.rfind("cannot read " + ::testing::TempDir() + ": ", 0), 0u)
      << error;
}

TEST(ServerConfigTest, ExampleClusterConfigsAreValid) {
  const std::filesystem::path examples =
      std::filesystem::path(__FILE__).parent_path() /
      "../../../examples/cluster";
  for (raft::NodeId id = 1; id <= 3; ++id) {
    const std::string path =
        (examples / ("node" + std::to_string(id) + ".toml")).string();
    ServerConfig config;
    std::string error;
    ASSERT_TRUE(load_config(path, {}, &config, &error)) << error;
    EXPECT_EQ(config.node.id, id);
    EXPECT_EQ(config.node.listen_address, "127.0.0.1:700" + std::to_string(id));
    EXPECT_EQ(config.client_address, "127.0.0.1:800" + std::to_string(id));
    EXPECT_EQ(config.node.data_dir, "./data/node" + std::to_string(id));
    EXPECT_EQ(config.node.initial_voters, (std::vector<raft::NodeId>{1, 2, 3}));
    EXPECT_EQ(config.node.peers.size(), 2u);
    for (const node::Member& peer : config.node.peers) {
      EXPECT_EQ(config.client_addresses.at(peer.id),
                "127.0.0.1:800" + std::to_string(peer.id));
    }
  }
}

TEST(ServerConfigTest, SyntaxErrorsNameTheirPlace) {
  // The rest of the message is toml++'s own.
  EXPECT_EQ(parse_error(with_minimal("[raft\n")).rfind("node.toml:6:6: ", 0),
            0u);
}

// Each kind of mistake, and the exact message it gets: the place
// (file:line:column, or the variable) and the key.
struct ErrorCase {
  const char* name;
  std::string text;
  Environment env;
  std::string message;
};

void PrintTo(const ErrorCase& error_case, std::ostream* os) {
  *os << error_case.name;
}

class ServerConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ServerConfigErrorTest, NamesThePlaceAndTheKey) {
  EXPECT_EQ(parse_error(GetParam().text, GetParam().env), GetParam().message);
}

const std::string kHead(kMinimal);  // ends on line 5

INSTANTIATE_TEST_SUITE_P(
    Mistakes, ServerConfigErrorTest,
    ::testing::Values(
        ErrorCase{"UnknownSection",
                  kHead + "[nod]\nid = 1\n",
                  {},
                  "node.toml:6:2: [nod]: unknown section; did you mean "
                  "\"node\"?"},
        ErrorCase{"UnknownSectionFarFromAny",
                  kHead + "[metrics]\n",
                  {},
                  "node.toml:6:2: [metrics]: unknown section; known: node, "
                  "cluster, storage, raft, log"},
        ErrorCase{"KeyOutsideASection",
                  "id = 1\n",
                  {},
                  "node.toml:1:1: id: unknown key at the top level (every key "
                  "belongs in a section such as [node])"},
        ErrorCase{"SectionNotATable",
                  "raft = 5\n",
                  {},
                  "node.toml:1:8: raft: expected a table ([raft]), got an "
                  "integer"},
        ErrorCase{"UnknownKey",
                  kHead + "data_dri = \"x\"\n",
                  {},
                  "node.toml:6:1: node.data_dri: unknown key; did you mean "
                  "\"data_dir\"?"},
        ErrorCase{"UnknownKeyFarFromAny",
                  kHead + "[log]\nformat = \"json\"\n",
                  {},
                  "node.toml:7:1: log.format: unknown key; known: level"},
        ErrorCase{"WrongType",
                  "[node]\nid = \"one\"\n",
                  {},
                  "node.toml:2:6: node.id: expected an integer, got a string"},
        ErrorCase{"FloatForInteger",
                  kHead + "[raft]\ntick_ms = 50.0\n",
                  {},
                  "node.toml:7:11: raft.tick_ms: expected an integer, got a "
                  "floating-point number"},
        ErrorCase{"IdZero",
                  "[node]\nid = 0\n",
                  {},
                  "node.toml:2:6: node.id: must be between 1 and "
                  "9223372036854775807, got 0"},
        ErrorCase{"NegativeClusterId",
                  "[node]\ncluster_id = -1\n",
                  {},
                  "node.toml:2:14: node.cluster_id: must be between 0 and "
                  "9223372036854775807, got -1"},
        ErrorCase{"TickTooLong",
                  kHead + "[raft]\ntick_ms = 10001\n",
                  {},
                  "node.toml:7:11: raft.tick_ms: must be between 1 and 10000, "
                  "got 10001"},
        ErrorCase{"NoSnapshotKept",
                  kHead + "[storage]\nsnapshots_kept = 0\n",
                  {},
                  "node.toml:7:18: storage.snapshots_kept: must be between 1 "
                  "and 1000, got 0"},
        ErrorCase{"EmptyDataDir",
                  "[node]\ndata_dir = \"\"\n",
                  {},
                  "node.toml:2:12: node.data_dir: must not be empty"},
        ErrorCase{"UnknownChoice",
                  kHead + "[storage]\nlog_backend = \"lmdb\"\n",
                  {},
                  "node.toml:7:15: storage.log_backend: must be one of "
                  "\"wal\", \"rocksdb\", got \"lmdb\""},
        ErrorCase{"UnknownReadConsistency",
                  kHead + "[raft]\ndefault_read = \"strong\"\n",
                  {},
                  "node.toml:7:16: raft.default_read: must be one of "
                  "\"linearizable\", \"lease\", \"eventual\", got \"strong\""},
        ErrorCase{"UnknownLogLevel",
                  kHead + "[log]\nlevel = \"trace\"\n",
                  {},
                  "node.toml:7:9: log.level: must be one of \"debug\", "
                  "\"info\", \"warn\", \"error\", got \"trace\""},
        ErrorCase{"DecimalSizeUnit",
                  kHead + "[storage]\nsnapshot_bytes = \"64MB\"\n",
                  {},
                  "node.toml:7:18: storage.snapshot_bytes: expected a size "
                  "such as 1048576 or \"64MiB\" (units B, KiB, MiB, GiB, TiB), "
                  "got \"64MB\""},
        ErrorCase{"SizeOverflow",
                  kHead + "[storage]\nsnapshot_bytes = \"9000000TiB\"\n",
                  {},
                  "node.toml:7:18: storage.snapshot_bytes: size "
                  "\"9000000TiB\" is too large"},
        ErrorCase{"SizeOfWrongType",
                  kHead + "[storage]\nsnapshot_bytes = true\n",
                  {},
                  "node.toml:7:18: storage.snapshot_bytes: expected a size "
                  "(an integer, or a string such as \"64MiB\"), got a boolean"},
        ErrorCase{"EntryLargerThanAFrame",
                  kHead + "[storage]\nmax_entry_bytes = \"1GiB\"\n",
                  {},
                  "node.toml:7:19: storage.max_entry_bytes: must be between 1 "
                  "and 66060288, got 1073741824"},
        ErrorCase{"AddressWithoutPort",
                  "[node]\npeer_address = \"localhost\"\n",
                  {},
                  "node.toml:2:16: node.peer_address: bad address "
                  "\"localhost\": expected host:port"},
        ErrorCase{"PortZero",
                  "[node]\nclient_address = \"127.0.0.1:0\"\n",
                  {},
                  "node.toml:2:18: node.client_address: bad address "
                  "\"127.0.0.1:0\": port must be 1-65535"},
        ErrorCase{"PortTooLarge",
                  "[node]\npeer_address = \"127.0.0.1:70000\"\n",
                  {},
                  "node.toml:2:16: node.peer_address: bad address "
                  "\"127.0.0.1:70000\": port must be 1-65535"},
        ErrorCase{"Ipv6WithoutColon",
                  "[node]\npeer_address = \"[::1]7001\"\n",
                  {},
                  "node.toml:2:16: node.peer_address: bad address "
                  "\"[::1]7001\": expected [ipv6]:port"},
        ErrorCase{"PeersNotAnArray",
                  kHead + "[cluster]\npeers = \"2=h:1\"\n",
                  {},
                  "node.toml:7:9: cluster.peers: expected an array of { id, "
                  "address } tables, got a string"},
        ErrorCase{"PeerNotATable",
                  kHead + "[cluster]\npeers = [2]\n",
                  {},
                  "node.toml:7:10: cluster.peers[0]: expected a table { id, "
                  "address }, got an integer"},
        ErrorCase{"PeerUnknownKey",
                  kHead + "[cluster]\npeers = [{ id = 2, adress = \"h:1\" }]\n",
                  {},
                  "node.toml:7:20: cluster.peers[0].adress: unknown key; did "
                  "you mean \"address\"?"},
        ErrorCase{"PeerWithoutAddress",
                  kHead + "[cluster]\npeers = [{ id = 2 }]\n",
                  {},
                  "node.toml:7:10: cluster.peers[0]: missing address"},
        ErrorCase{
            "PeerIdOfWrongType",
            kHead + "[cluster]\npeers = [{ id = \"2\", address = \"h:1\" }]\n",
            {},
            "node.toml:7:17: cluster.peers[0].id: expected an integer, "
            "got a string"},
        ErrorCase{"PeerBadAddress",
                  kHead + "[cluster]\npeers = [{ id = 2, address = \"h\" }]\n",
                  {},
                  "node.toml:7:10: cluster.peers[0]: bad address \"h\": "
                  "expected host:port"},
        ErrorCase{"PeerBadClientAddress",
                  kHead + "[cluster]\npeers = [{ id = 2, address = \"h:1\", "
                          "client_address = \"h:0\" }]\n",
                  {},
                  "node.toml:7:10: cluster.peers[0]: bad address \"h:0\": "
                  "port must be 1-65535"},
        ErrorCase{"PeerClientAddressOfWrongType",
                  kHead + "[cluster]\npeers = [{ id = 2, address = \"h:1\", "
                          "client_address = 8002 }]\n",
                  {},
                  "node.toml:7:54: cluster.peers[0].client_address: expected "
                  "a string, got an integer"},
        ErrorCase{"PeerAddressesEqual",
                  kHead + "[cluster]\npeers = [{ id = 2, address = \"h:1\", "
                          "client_address = \"h:1\" }]\n",
                  {},
                  "node.toml:7:10: cluster.peers[0]: address \"h:1\" is listed "
                  "twice (peer 2)"},
        ErrorCase{
            "PeerClientAddressIsAnotherPeerAddress",
            kHead +
                "[cluster]\npeers = [{ id = 2, address = \"h:1\" },\n"
                "  { id = 3, address = \"h:3\", client_address = \"h:1\" }]\n",
            {},
            "node.toml:8:3: cluster.peers[1]: address \"h:1\" is listed "
            "twice (peers 2 and 3)"},
        ErrorCase{"PeerHasOwnClientAddress",
                  kHead + "[cluster]\npeers = [{ id = 2, address = \"h:1\", "
                          "client_address = \"127.0.0.1:8001\" }]\n",
                  {},
                  "node.toml:7:9: cluster.peers: peer 2 has this node's own "
                  "client address \"127.0.0.1:8001\" (node.client_address)"},
        ErrorCase{"DuplicatePeerId",
                  kHead + "[cluster]\npeers = [{ id = 2, address = \"h:1\" },\n"
                          "         { id = 2, address = \"h:2\" }]\n",
                  {},
                  "node.toml:8:10: cluster.peers[1]: peer id 2 is listed "
                  "twice"},
        ErrorCase{"DuplicatePeerAddress",
                  kHead + "[cluster]\npeers = [{ id = 2, address = \"h:1\" },\n"
                          "         { id = 3, address = \"h:1\" }]\n",
                  {},
                  "node.toml:8:10: cluster.peers[1]: address \"h:1\" is listed "
                  "twice (peers 2 and 3)"},
        ErrorCase{
            "PeerIsThisNode",
            kHead + "[cluster]\npeers = [{ id = 1, address = \"h:1\" }]\n",
            {},
            "node.toml:7:9: cluster.peers: peer 1 is this node "
            "(node.id); list only the other nodes"},
        ErrorCase{"PeerHasOwnAddress",
                  kHead +
                      "[cluster]\n"
                      "peers = [{ id = 2, address = \"127.0.0.1:7001\" }]\n",
                  {},
                  "node.toml:7:9: cluster.peers: peer 2 has this node's own "
                  "address \"127.0.0.1:7001\" (node.peer_address)"},
        ErrorCase{"VotersWithoutThisNode",
                  kHead + "[cluster]\ninitial_voters = [2, 3]\n"
                          "peers = [{ id = 2, address = \"h:2\" },\n"
                          "         { id = 3, address = \"h:3\" }]\n",
                  {},
                  "node.toml:7:18: cluster.initial_voters: must contain this "
                  "node (node.id 1); omit it to join an existing cluster "
                  "instead"},
        ErrorCase{"VoterWithoutAddress",
                  kHead + "[cluster]\ninitial_voters = [1, 2]\n",
                  {},
                  "node.toml:7:18: cluster.initial_voters: voter 2 has no "
                  "address in cluster.peers"},
        ErrorCase{"DuplicateVoter",
                  kHead + "[cluster]\ninitial_voters = [1, 1]\n",
                  {},
                  "node.toml:7:22: cluster.initial_voters[1]: node 1 is listed "
                  "twice"},
        ErrorCase{"VoterZero",
                  kHead + "[cluster]\ninitial_voters = [0]\n",
                  {},
                  "node.toml:7:19: cluster.initial_voters[0]: node ids must be "
                  "at least 1, got 0"},
        ErrorCase{"HeartbeatNotBelowElection",
                  kHead + "[raft]\nelection_ticks = 4\nheartbeat_ticks = 4\n",
                  {},
                  "node.toml:7:18: raft.election_ticks: must be greater than "
                  "raft.heartbeat_ticks (4), got 4"},
        ErrorCase{"ElectionWithinLeaseMargin",
                  kHead + "[raft]\nelection_ticks = 2\n",
                  {},
                  "node.toml:7:18: raft.election_ticks: must be between 3 and "
                  "10000, got 2"},
        ErrorCase{"SubTableInASection",
                  kHead + "[node.extra]\n",
                  {},
                  "node.toml:6:7: node.extra: unknown key; known: id, "
                  "cluster_id, data_dir, peer_address, client_address"},
        ErrorCase{"SameAddressTwice",
                  "[node]\nid = 1\ndata_dir = \"d\"\n"
                  "peer_address = \"127.0.0.1:7001\"\n"
                  "client_address = \"127.0.0.1:7001\"\n",
                  {},
                  "node.toml:5:18: node.client_address: must differ from "
                  "node.peer_address (\"127.0.0.1:7001\")"},
        ErrorCase{"MissingId",
                  "[node]\ndata_dir = \"d\"\n",
                  {},
                  "node.toml: node.id: missing; set it in [node] or with "
                  "DENGINE_NODE_ID"},
        ErrorCase{"MissingClientAddress",
                  "[node]\nid = 1\ndata_dir = \"d\"\n"
                  "peer_address = \"127.0.0.1:7001\"\n",
                  {},
                  "node.toml: node.client_address: missing; set it in [node] "
                  "or with DENGINE_NODE_CLIENT_ADDRESS"},
        ErrorCase{"EnvNotAnInteger",
                  kHead,
                  {{"DENGINE_NODE_ID", "one"}},
                  "environment variable DENGINE_NODE_ID: node.id: expected an "
                  "integer, got \"one\""},
        ErrorCase{"EnvOutOfRange",
                  kHead,
                  {{"DENGINE_RAFT_TICK_MS", "0"}},
                  "environment variable DENGINE_RAFT_TICK_MS: raft.tick_ms: "
                  "must be between 1 and 10000, got 0"},
        ErrorCase{"EnvUnknownVariable",
                  kHead,
                  {{"DENGINE_NODE_DATADIR", "/d"}},
                  "environment variable DENGINE_NODE_DATADIR: unknown "
                  "variable; did you mean \"DENGINE_NODE_DATA_DIR\"?"},
        ErrorCase{"EnvBadSize",
                  kHead,
                  {{"DENGINE_STORAGE_SNAPSHOT_BYTES", "1e6"}},
                  "environment variable DENGINE_STORAGE_SNAPSHOT_BYTES: "
                  "storage.snapshot_bytes: expected a size such as 1048576 or "
                  "\"64MiB\" (units B, KiB, MiB, GiB, TiB), got \"1e6\""},
        ErrorCase{"EnvBadChoice",
                  kHead,
                  {{"DENGINE_LOG_LEVEL", "INFO"}},
                  "environment variable DENGINE_LOG_LEVEL: log.level: must be "
                  "one of \"debug\", \"info\", \"warn\", \"error\", got "
                  "\"INFO\""},
        ErrorCase{"EnvBadVoters",
                  kHead,
                  {{"DENGINE_CLUSTER_INITIAL_VOTERS", "1,,2"}},
                  "environment variable DENGINE_CLUSTER_INITIAL_VOTERS: "
                  "cluster.initial_voters: expected ids separated by commas "
                  "such as \"1,2,3\", got \"1,,2\""},
        ErrorCase{"EnvDuplicateVoter",
                  kHead,
                  {{"DENGINE_CLUSTER_INITIAL_VOTERS", "1,2,1"}},
                  "environment variable DENGINE_CLUSTER_INITIAL_VOTERS: "
                  "cluster.initial_voters: node 1 is listed twice"},
        ErrorCase{"EnvBadPeers",
                  kHead,
                  {{"DENGINE_CLUSTER_PEERS", "127.0.0.1:7002"}},
                  "environment variable DENGINE_CLUSTER_PEERS: cluster.peers: "
                  "expected id=host:port pairs separated by commas such as "
                  "\"2=127.0.0.1:7002,3=127.0.0.1:7003\" (or "
                  "id=host:port/client-host:port), got \"127.0.0.1:7002\""},
        ErrorCase{"EnvPeerEmptyClientAddress",
                  kHead,
                  {{"DENGINE_CLUSTER_PEERS", "2=h:1/"}},
                  "environment variable DENGINE_CLUSTER_PEERS: cluster.peers: "
                  "peer 2: expected a client address after \"/\", got "
                  "\"2=h:1/\""},
        ErrorCase{"EnvPeerBadPort",
                  kHead,
                  {{"DENGINE_CLUSTER_PEERS", "2=127.0.0.1:x"}},
                  "environment variable DENGINE_CLUSTER_PEERS: cluster.peers: "
                  "bad address \"127.0.0.1:x\": port must be 1-65535"},
        ErrorCase{"EnvDuplicatePeer",
                  kHead,
                  {{"DENGINE_CLUSTER_PEERS", "2=h:1,2=h:2"}},
                  "environment variable DENGINE_CLUSTER_PEERS: cluster.peers: "
                  "peer id 2 is listed twice"},
        ErrorCase{"EnvPeerIsThisNode",
                  kHead,
                  {{"DENGINE_CLUSTER_PEERS", "1=h:1"}},
                  "environment variable DENGINE_CLUSTER_PEERS: cluster.peers: "
                  "peer 1 is this node (node.id); list only the other nodes"},
        ErrorCase{"EnvVotersWithoutThisNode",
                  kHead,
                  {{"DENGINE_CLUSTER_INITIAL_VOTERS", "2"},
                   {"DENGINE_CLUSTER_PEERS", "2=h:2"}},
                  "environment variable DENGINE_CLUSTER_INITIAL_VOTERS: "
                  "cluster.initial_voters: must contain this node (node.id "
                  "1); omit it to join an existing cluster instead"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace dengine::server
