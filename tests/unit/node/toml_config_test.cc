// The TOML loader (node/toml_config.h): every key into NodeOptions, the
// environment over the file, the keys a file leaves out keeping their
// values, and an error that names the place and the key for every kind of
// mistake (with validate_at placing the rules across options).
#include "node/toml_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace dengine::node {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kPrefix = "DENGINE_";

// A node's usual keys, with nothing else.
constexpr std::string_view kMinimal = R"([node]
id = 1
data_dir = "/var/lib/dengine"
peer_address = "127.0.0.1:7001"
client_address = "127.0.0.1:8001"
)";

std::string with_minimal(std::string_view more) {
  return std::string(kMinimal) + std::string(more);
}

NodeOptions apply_ok(std::string_view text, const Environment& env = {},
                     TomlSettings* settings_out = nullptr) {
  NodeOptions options;
  TomlSettings settings;
  EXPECT_EQ(apply_toml(text, "node.toml", env, kPrefix, &options, &settings),
            "");
  if (settings_out != nullptr) *settings_out = settings;
  return options;
}

// The first error of reading `text` and then checking the whole.
std::string error_of(std::string_view text, const Environment& env = {}) {
  NodeOptions options;
  TomlSettings settings;
  std::string error =
      apply_toml(text, "node.toml", env, kPrefix, &options, &settings);
  if (error.empty()) error = validate_at(options, settings, "node.toml");
  EXPECT_NE(error, "");
  return error;
}

TEST(TomlConfigTest, EveryKey) {
  TomlSettings settings;
  const NodeOptions options = apply_ok(R"(
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
kv_backend = "file"
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
)",
                                       {}, &settings);
  EXPECT_EQ(options.id, 2u);
  EXPECT_EQ(options.cluster_id, 7u);
  EXPECT_EQ(options.data_dir, "./data/node2");
  EXPECT_EQ(options.listen_address, "127.0.0.1:7002");
  EXPECT_EQ(options.client_address, "0.0.0.0:8002");
  EXPECT_EQ(options.client_addresses,
            (std::map<raft::NodeId, std::string>{{1, "h1:8001"}}));
  EXPECT_EQ(options.initial_voters, (std::vector<raft::NodeId>{1, 2, 3}));
  EXPECT_EQ(options.peers, (std::vector<Member>{{1, "127.0.0.1:7001", true},
                                                {3, "[::1]:7003", true}}));
  EXPECT_EQ(options.log_backend, LogBackend::kRocksDb);
  EXPECT_FALSE(options.machine.has_value());
  EXPECT_EQ(options.kv_backend, DENGINE_KV_FILE);
  EXPECT_EQ(options.snapshot_policy.entries, 5000u);
  EXPECT_EQ(options.snapshot_policy.bytes, 32u << 20);
  EXPECT_EQ(options.snapshots_kept, 3);
  EXPECT_EQ(options.max_entry_bytes, 1u << 20);
  EXPECT_EQ(options.tick_interval, milliseconds(20));
  EXPECT_EQ(options.election_ticks, 15);
  EXPECT_EQ(options.heartbeat_ticks, 3);
  EXPECT_EQ(options.default_read, ReadConsistency::kLease);
  EXPECT_EQ(settings.log_level, DENGINE_LOG_DEBUG);
  EXPECT_EQ(settings.origins.at("raft.tick_ms"), "node.toml:23:11");
  EXPECT_EQ(validate_at(options, settings, "node.toml"), "");
}

TEST(TomlConfigTest, TlsKeys) {
  TomlSettings settings;
  const NodeOptions options = apply_ok(with_minimal(R"(
[tls]
cert_file = "/etc/dengine/node-1.crt"
key_file = "/etc/dengine/node-1.key"
ca_file = "/etc/dengine/ca.crt"
min_version = "1.2"
require_client_cert = true
admin_identities = ["ops", "alice"]
)"),
                                       {}, &settings);
  EXPECT_TRUE(options.tls.enabled());
  EXPECT_EQ(options.tls.files.cert_file, "/etc/dengine/node-1.crt");
  EXPECT_EQ(options.tls.files.key_file, "/etc/dengine/node-1.key");
  EXPECT_EQ(options.tls.files.ca_file, "/etc/dengine/ca.crt");
  EXPECT_EQ(options.tls.files.min_version, net::TlsVersion::k1_2);
  EXPECT_TRUE(options.tls.require_client_cert);
  EXPECT_EQ(options.tls.admin_identities,
            (std::vector<std::string>{"ops", "alice"}));
  EXPECT_EQ(validate_at(options, settings, "node.toml"), "");
  // Without [tls], TLS is off.
  EXPECT_FALSE(apply_ok(kMinimal).tls.enabled());
}

TEST(TomlConfigTest, TlsVariables) {
  const NodeOptions options =
      apply_ok(kMinimal, {{"DENGINE_TLS_CERT_FILE", "c.pem"},
                          {"DENGINE_TLS_KEY_FILE", "k.pem"},
                          {"DENGINE_TLS_CA_FILE", "ca.pem"},
                          {"DENGINE_TLS_MIN_VERSION", "1.3"},
                          {"DENGINE_TLS_REQUIRE_CLIENT_CERT", "true"},
                          {"DENGINE_TLS_ADMIN_IDENTITIES", "ops, bob"}});
  EXPECT_EQ(options.tls.files.cert_file, "c.pem");
  EXPECT_EQ(options.tls.files.key_file, "k.pem");
  EXPECT_EQ(options.tls.files.ca_file, "ca.pem");
  EXPECT_EQ(options.tls.files.min_version, net::TlsVersion::k1_3);
  EXPECT_TRUE(options.tls.require_client_cert);
  EXPECT_EQ(options.tls.admin_identities,
            (std::vector<std::string>{"ops", "bob"}));
  // false, and an empty list, from the environment over the file.
  const NodeOptions cleared =
      apply_ok(with_minimal("[tls]\nrequire_client_cert = true\n"
                            "admin_identities = [\"ops\"]\n"),
               {{"DENGINE_TLS_REQUIRE_CLIENT_CERT", "false"},
                {"DENGINE_TLS_ADMIN_IDENTITIES", ""}});
  EXPECT_FALSE(cleared.tls.require_client_cert);
  EXPECT_TRUE(cleared.tls.admin_identities.empty());
}

TEST(TomlConfigTest, KeysLeftOutKeepTheirValues) {
  NodeOptions options;
  options.id = 9;
  options.tick_interval = milliseconds(7);
  options.peers = {{2, "h:2", true}};
  options.max_entry_bytes = 123;
  TomlSettings settings;
  ASSERT_EQ(apply_toml("[raft]\nelection_ticks = 30\n", "node.toml", {},
                       kPrefix, &options, &settings),
            "");
  EXPECT_EQ(options.election_ticks, 30);
  EXPECT_EQ(options.id, 9u);
  EXPECT_EQ(options.tick_interval, milliseconds(7));
  EXPECT_EQ(options.peers, (std::vector<Member>{{2, "h:2", true}}));
  EXPECT_EQ(options.max_entry_bytes, 123u);
  EXPECT_FALSE(settings.log_level.has_value());
  EXPECT_EQ(settings.origins.size(), 1u);
}

TEST(TomlConfigTest, AnEmptyFileChangesNothing) {
  const NodeOptions defaults;
  const NodeOptions options = apply_ok("");
  EXPECT_EQ(options.listen_address, defaults.listen_address);
  EXPECT_EQ(options.tick_interval, defaults.tick_interval);
  EXPECT_EQ(options.snapshot_policy.bytes, defaults.snapshot_policy.bytes);
}

TEST(TomlConfigTest, TheOldNameOfKvBackendStillWorks) {
  EXPECT_EQ(apply_ok("[storage]\nstate_machine = \"file\"\n").kv_backend,
            DENGINE_KV_FILE);
  EXPECT_EQ(
      apply_ok("", {{"DENGINE_STORAGE_STATE_MACHINE", "file"}}).kv_backend,
      DENGINE_KV_FILE);
  TomlSettings settings;
  apply_ok("[storage]\nstate_machine = \"file\"\n", {}, &settings);
  EXPECT_TRUE(settings.origins.contains("storage.kv_backend"));
}

TEST(TomlConfigTest, PeersAsArrayOfTables) {
  const NodeOptions options = apply_ok(with_minimal(R"(
[cluster]
initial_voters = [1, 2]

[[cluster.peers]]
id = 2
address = "node2.example:7002"
)"));
  EXPECT_EQ(options.peers,
            (std::vector<Member>{{2, "node2.example:7002", true}}));
}

TEST(TomlConfigTest, SizesTakeBinaryUnits) {
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
    const NodeOptions options =
        apply_ok("[storage]\nsnapshot_bytes = " + written + "\n");
    EXPECT_EQ(options.snapshot_policy.bytes, bytes) << written;
  }
}

TEST(TomlConfigTest, EachEnvironmentVariableOverridesTheFile) {
  struct Case {
    std::string variable;
    std::string value;
    std::function<bool(const NodeOptions&, const TomlSettings&)> applied;
  };
  const std::vector<Case> cases = {
      {"DENGINE_NODE_ID", "3", [](auto& o, auto&) { return o.id == 3; }},
      {"DENGINE_NODE_CLUSTER_ID", "9",
       [](auto& o, auto&) { return o.cluster_id == 9; }},
      {"DENGINE_NODE_DATA_DIR", "/srv/d",
       [](auto& o, auto&) { return o.data_dir == "/srv/d"; }},
      {"DENGINE_NODE_PEER_ADDRESS", "10.0.0.1:7101",
       [](auto& o, auto&) { return o.listen_address == "10.0.0.1:7101"; }},
      {"DENGINE_NODE_CLIENT_ADDRESS", "10.0.0.1:8101",
       [](auto& o, auto&) { return o.client_address == "10.0.0.1:8101"; }},
      {"DENGINE_CLUSTER_INITIAL_VOTERS", "1, 2,3",
       [](auto& o, auto&) {
         return o.initial_voters == std::vector<raft::NodeId>{1, 2, 3};
       }},
      {"DENGINE_CLUSTER_PEERS", "2=127.0.0.1:7102/127.0.0.1:8102, 4=h:7104",
       [](auto& o, auto&) {
         return o.peers == std::vector<Member>{{2, "127.0.0.1:7102", true},
                                               {4, "h:7104", true}} &&
                o.client_addresses ==
                    std::map<raft::NodeId, std::string>{{2, "127.0.0.1:8102"}};
       }},
      {"DENGINE_STORAGE_LOG_BACKEND", "rocksdb",
       [](auto& o, auto&) { return o.log_backend == LogBackend::kRocksDb; }},
      {"DENGINE_STORAGE_KV_BACKEND", "file",
       [](auto& o, auto&) { return o.kv_backend == DENGINE_KV_FILE; }},
      {"DENGINE_STORAGE_SNAPSHOT_ENTRIES", "0",
       [](auto& o, auto&) { return o.snapshot_policy.entries == 0; }},
      {"DENGINE_STORAGE_SNAPSHOT_BYTES", "8MiB",
       [](auto& o, auto&) { return o.snapshot_policy.bytes == 8u << 20; }},
      {"DENGINE_STORAGE_SNAPSHOTS_KEPT", "5",
       [](auto& o, auto&) { return o.snapshots_kept == 5; }},
      {"DENGINE_STORAGE_MAX_ENTRY_BYTES", "65536",
       [](auto& o, auto&) { return o.max_entry_bytes == 65536; }},
      {"DENGINE_RAFT_TICK_MS", "100",
       [](auto& o, auto&) { return o.tick_interval == milliseconds(100); }},
      {"DENGINE_RAFT_ELECTION_TICKS", "20",
       [](auto& o, auto&) { return o.election_ticks == 20; }},
      {"DENGINE_RAFT_HEARTBEAT_TICKS", "4",
       [](auto& o, auto&) { return o.heartbeat_ticks == 4; }},
      {"DENGINE_RAFT_DEFAULT_READ", "eventual",
       [](auto& o, auto&) {
         return o.default_read == ReadConsistency::kEventual;
       }},
      {"DENGINE_LOG_LEVEL", "error",
       [](auto&, auto& s) { return s.log_level == DENGINE_LOG_ERROR; }},
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
kv_backend = "rocksdb"
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
    TomlSettings from_file;
    TomlSettings from_env;
    const NodeOptions file_only = apply_ok(file, {}, &from_file);
    const NodeOptions overridden =
        apply_ok(file, {{c.variable, c.value}}, &from_env);
    EXPECT_FALSE(c.applied(file_only, from_file));
    EXPECT_TRUE(c.applied(overridden, from_env));
  }
}

TEST(TomlConfigTest, AnotherPrefixNamesOtherVariables) {
  NodeOptions options;
  TomlSettings settings;
  ASSERT_EQ(apply_toml("", "node.toml",
                       {{"MYAPP_RAFT_TICK_MS", "30"}, {"DENGINE_NODE_ID", "x"}},
                       "MYAPP_", &options, &settings),
            "");
  EXPECT_EQ(options.tick_interval, milliseconds(30));
  EXPECT_EQ(settings.origins.at("raft.tick_ms"),
            "environment variable MYAPP_RAFT_TICK_MS");
  EXPECT_EQ(env_variable("MYAPP_", "storage.kv_backend"),
            "MYAPP_STORAGE_KV_BACKEND");
}

TEST(TomlConfigTest, EmptyListsFromTheEnvironmentClearTheFile) {
  const NodeOptions options = apply_ok(
      with_minimal(R"(
[cluster]
initial_voters = [1, 2]
peers = [{ id = 2, address = "127.0.0.1:7002" }]
)"),
      {{"DENGINE_CLUSTER_INITIAL_VOTERS", ""}, {"DENGINE_CLUSTER_PEERS", ""}});
  EXPECT_TRUE(options.initial_voters.empty());
  EXPECT_TRUE(options.peers.empty());
}

TEST(TomlConfigTest, OtherVariablesAreIgnored) {
  apply_ok(kMinimal, {{"DENGINE_REWRITE", "1"},
                      {"DENGINE_NODES", "x"},
                      {"PATH", "/bin"},
                      {"NODE_ID", "x"}});
}

TEST(TomlConfigTest, FailureLeavesTheOptionsAlone) {
  NodeOptions options;
  options.data_dir = "unchanged";
  TomlSettings settings;
  EXPECT_NE(apply_toml("[node]\ndata_dir = \"d\"\nid = 0\n", "node.toml", {},
                       kPrefix, &options, &settings),
            "");
  EXPECT_EQ(options.data_dir, "unchanged");
  EXPECT_TRUE(settings.origins.empty());
  EXPECT_NE(
      apply_toml("[raft]\ntick_ms = 5\n", "node.toml",
                 {{"DENGINE_RAFT_TICK_MS", "0"}}, kPrefix, &options, &settings),
      "");
  EXPECT_EQ(options.tick_interval, NodeOptions().tick_interval);
}

TEST(TomlConfigTest, ProcessEnvironmentHoldsThePrefixedVariables) {
  ASSERT_EQ(setenv("DENGINE_CONFIG_TEST_PROBE", "a=b", 1), 0);
  const Environment env = process_environment("DENGINE_");
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

TEST(TomlConfigTest, LoadsAFileAndNamesItInErrors) {
  const std::string path = ::testing::TempDir() + "dengine-toml-config-test-" +
                           std::to_string(getpid()) + ".toml";
  NodeOptions options;
  TomlSettings settings;
  std::string error;
  write_file(path, with_minimal("[raft]\ntick_ms = 10\n"));
  EXPECT_EQ(load_toml_file(path, {{"DENGINE_RAFT_TICK_MS", "25"}}, kPrefix,
                           &options, &settings, &error),
            DENGINE_OK)
      << error;
  EXPECT_EQ(options.tick_interval, milliseconds(25));
  EXPECT_EQ(settings.origins.at("node.id"), path + ":2:6");

  // A mistake in the file is reported even when a variable would replace
  // the value: the file itself must be right.
  write_file(path, with_minimal("[raft]\ntick_ms = \"fast\"\n"));
  EXPECT_EQ(load_toml_file(path, {{"DENGINE_RAFT_TICK_MS", "25"}}, kPrefix,
                           &options, &settings, &error),
            DENGINE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(error,
            path + ":7:11: raft.tick_ms: expected an integer, got a string");
  std::remove(path.c_str());

  EXPECT_EQ(load_toml_file(path, {}, kPrefix, &options, &settings, &error),
            DENGINE_ERR_IO);
  EXPECT_EQ(error, "cannot open " + path + ": No such file or directory");
  EXPECT_EQ(load_toml_file(::testing::TempDir(), {}, kPrefix, &options,
                           &settings, &error),
            DENGINE_ERR_IO);
  EXPECT_EQ(error.rfind("cannot read " + ::testing::TempDir() + ": ", 0), 0u)
      << error;
}

TEST(TomlConfigTest, SyntaxErrorsNameTheirPlace) {
  // The rest of the message is toml++'s own.
  EXPECT_EQ(error_of(with_minimal("[raft\n")).rfind("node.toml:6:6: ", 0), 0u);
}

TEST(TomlConfigTest, RulesAcrossOptionsArePlacedWhereTheirKeyWasSet) {
  NodeOptions options;
  TomlSettings settings;
  ASSERT_EQ(apply_toml("[raft]\nelection_ticks = 4\n", "node.toml",
                       {{"DENGINE_RAFT_HEARTBEAT_TICKS", "4"}}, kPrefix,
                       &options, &settings),
            "");
  options.id = 1;
  options.data_dir = "d";
  EXPECT_EQ(validate_at(options, settings, "node.toml"),
            "node.toml:2:18: raft.election_ticks: must be greater than "
            "heartbeat_ticks (4), got 4");
  // An option no key of the file set is placed at the file.
  options.election_ticks = 10;
  options.id = 0;
  EXPECT_EQ(validate_at(options, settings, "node.toml"),
            "node.toml: node.id: missing: every node needs a node id");
  // One no key sets at all keeps its own name.
  options.id = 1;
  options.machine = dengine_state_machine{};
  EXPECT_EQ(validate_at(options, settings, "node.toml"),
            "node.toml: state_machine: apply_chunk, generate_snapshot and "
            "install_snapshot are required");
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

class TomlConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TomlConfigErrorTest, NamesThePlaceAndTheKey) {
  EXPECT_EQ(error_of(GetParam().text, GetParam().env), GetParam().message);
}

const std::string kHead(kMinimal);  // ends on line 5

INSTANTIATE_TEST_SUITE_P(
    Mistakes, TomlConfigErrorTest,
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
                  "cluster, storage, raft, tls, log"},
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
        ErrorCase{"OldNameIsNoHint",
                  kHead + "[storage]\nstate_machin = \"file\"\n",
                  {},
                  "node.toml:7:1: storage.state_machin: unknown key; known: "
                  "log_backend, kv_backend, snapshot_entries, snapshot_bytes, "
                  "snapshots_kept, max_entry_bytes, "
                  "watch_history_events, watch_history_bytes"},
        ErrorCase{"OldAndNewNameTogether",
                  kHead + "[storage]\nkv_backend = \"file\"\n"
                          "state_machine = \"file\"\n",
                  {},
                  "node.toml:8:17: storage.kv_backend: set twice, as "
                  "storage.kv_backend and as storage.state_machine (its old "
                  "name)"},
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
                  "node.toml:2:6: node.id: must be at least 1, got 0"},
        ErrorCase{"NegativeClusterId",
                  "[node]\ncluster_id = -1\n",
                  {},
                  "node.toml:2:14: node.cluster_id: must not be negative, got "
                  "-1"},
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
        ErrorCase{"MissingId",
                  "[node]\ndata_dir = \"d\"\n",
                  {},
                  "node.toml: node.id: missing: every node needs a node id"},
        ErrorCase{"UnknownChoice",
                  kHead + "[storage]\nlog_backend = \"lmdb\"\n",
                  {},
                  "node.toml:7:15: storage.log_backend: must be one of "
                  "\"wal\", \"rocksdb\", got \"lmdb\""},
        ErrorCase{"UnknownKvBackendUnderItsOldName",
                  kHead + "[storage]\nstate_machine = \"sqlite\"\n",
                  {},
                  "node.toml:7:17: storage.kv_backend: must be one of "
                  "\"rocksdb\", \"file\", got \"sqlite\""},
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
        ErrorCase{"NegativeSize",
                  kHead + "[storage]\nmax_entry_bytes = -1\n",
                  {},
                  "node.toml:7:19: storage.max_entry_bytes: must not be "
                  "negative, got -1"},
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
        ErrorCase{"PortTooLarge",
                  "[node]\npeer_address = \"127.0.0.1:70000\"\n",
                  {},
                  "node.toml:2:16: node.peer_address: bad address "
                  "\"127.0.0.1:70000\": port must be 1-65535 (or 0 for any)"},
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
                  "node.toml:7:10: cluster.peers[0]: peer 2: bad address "
                  "\"h\": expected host:port"},
        ErrorCase{"PeerPortZero",
                  kHead + "[cluster]\npeers = [{ id = 2, address = \"h:1\", "
                          "client_address = \"h:0\" }]\n",
                  {},
                  "node.toml:7:10: cluster.peers[0]: peer 2: bad address "
                  "\"h:0\": port must be 1-65535"},
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
                  "address \"127.0.0.1:8001\" as its client address"},
        ErrorCase{"TlsHalfConfigured",
                  kHead + "[tls]\nca_file = \"ca.pem\"\n",
                  {},
                  "node.toml: tls.cert_file: missing: TLS needs tls_cert_file, "
                  "tls_key_file and tls_ca_file (a node presents its "
                  "certificate to peers and clients)"},
        ErrorCase{"TlsKeyWithoutCert",
                  kHead + "[tls]\nkey_file = \"k.pem\"\nca_file = \"ca\"\n",
                  {},
                  "node.toml: tls.cert_file: missing: TLS needs tls_cert_file, "
                  "tls_key_file and tls_ca_file (a node presents its "
                  "certificate to peers and clients)"},
        ErrorCase{"TlsClientCertWithoutTls",
                  kHead + "[tls]\nrequire_client_cert = true\n",
                  {},
                  "node.toml:7:23: tls.require_client_cert: needs "
                  "tls_cert_file, tls_key_file and tls_ca_file"},
        ErrorCase{"TlsAdminsWithoutClientCerts",
                  kHead + "[tls]\ncert_file = \"c\"\nkey_file = \"k\"\n"
                          "ca_file = \"ca\"\nadmin_identities = [\"ops\"]\n",
                  {},
                  "node.toml:10:20: tls.admin_identities: needs "
                  "tls_require_client_cert = true: identities come from client "
                  "certificates"},
        ErrorCase{"TlsUnknownVersion",
                  kHead + "[tls]\nmin_version = \"1.1\"\n",
                  {},
                  "node.toml:7:15: tls.min_version: must be \"1.2\" or "
                  "\"1.3\", got \"1.1\""},
        ErrorCase{"TlsEmptyFile",
                  kHead + "[tls]\ncert_file = \"\"\n",
                  {},
                  "node.toml:7:13: tls.cert_file: must not be empty"},
        ErrorCase{"TlsBoolOfWrongType",
                  kHead + "[tls]\nrequire_client_cert = \"yes\"\n",
                  {},
                  "node.toml:7:23: tls.require_client_cert: expected true or "
                  "false, got a string"},
        ErrorCase{"TlsBoolVariable",
                  kHead,
                  {{"DENGINE_TLS_REQUIRE_CLIENT_CERT", "1"}},
                  "environment variable DENGINE_TLS_REQUIRE_CLIENT_CERT: "
                  "tls.require_client_cert: expected true or false, got "
                  "\"1\""},
        ErrorCase{"TlsIdentityOfWrongType",
                  kHead + "[tls]\nadmin_identities = [\"ops\", 7]\n",
                  {},
                  "node.toml:7:28: tls.admin_identities[1]: expected a string, "
                  "got an integer"},
        ErrorCase{"TlsEmptyIdentity",
                  kHead + "[tls]\nadmin_identities = [\"\"]\n",
                  {},
                  "node.toml:7:20: tls.admin_identities: an identity must not "
                  "be empty"},
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
            "node.toml:7:9: cluster.peers: peer 1 is this node (id); list "
            "only the other nodes"},
        ErrorCase{"PeerHasOwnAddress",
                  kHead +
                      "[cluster]\n"
                      "peers = [{ id = 2, address = \"127.0.0.1:7001\" }]\n",
                  {},
                  "node.toml:7:9: cluster.peers: peer 2 has this node's own "
                  "address \"127.0.0.1:7001\" (peer_address)"},
        ErrorCase{"VotersWithoutThisNode",
                  kHead + "[cluster]\ninitial_voters = [2, 3]\n"
                          "peers = [{ id = 2, address = \"h:2\" },\n"
                          "         { id = 3, address = \"h:3\" }]\n",
                  {},
                  "node.toml:7:18: cluster.initial_voters: must contain this "
                  "node (id 1); leave it empty to join an existing cluster "
                  "instead"},
        ErrorCase{"VoterWithoutAddress",
                  kHead + "[cluster]\ninitial_voters = [1, 2]\n",
                  {},
                  "node.toml:7:18: cluster.initial_voters: voter 2 has no "
                  "address in peers"},
        ErrorCase{"DuplicateVoter",
                  kHead + "[cluster]\ninitial_voters = [1, 1]\n",
                  {},
                  "node.toml:7:22: cluster.initial_voters[1]: node 1 is listed "
                  "twice"},
        ErrorCase{"VoterZero",
                  kHead + "[cluster]\ninitial_voters = [0]\n",
                  {},
                  "node.toml:7:19: cluster.initial_voters[0]: a voter id must "
                  "be at least 1, got 0"},
        ErrorCase{"HeartbeatNotBelowElection",
                  kHead + "[raft]\nelection_ticks = 4\nheartbeat_ticks = 4\n",
                  {},
                  "node.toml:7:18: raft.election_ticks: must be greater than "
                  "heartbeat_ticks (4), got 4"},
        ErrorCase{"ElectionWithinLeaseMargin",
                  kHead + "[raft]\nelection_ticks = 2\n",
                  {},
                  "node.toml:7:18: raft.election_ticks: must be between 3 and "
                  "10000, got 2"},
        ErrorCase{"SubTableInASection",
                  kHead + "[node.extra]\n",
                  {},
                  "node.toml:6:7: node.extra: unknown key; known: id, "
                  "cluster_id, data_dir, peer_address, client_address, "
                  "metrics_address"},
        ErrorCase{"SameAddressTwice",
                  "[node]\nid = 1\ndata_dir = \"d\"\n"
                  "peer_address = \"127.0.0.1:7001\"\n"
                  "client_address = \"127.0.0.1:7001\"\n",
                  {},
                  "node.toml:5:18: node.client_address: must differ from "
                  "peer_address (\"127.0.0.1:7001\")"},
        ErrorCase{"EnvNotAnInteger",
                  kHead,
                  {{"DENGINE_NODE_ID", "one"}},
                  "environment variable DENGINE_NODE_ID: node.id: expected a "
                  "non-negative integer, got \"one\""},
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
        ErrorCase{"EnvOldAndNewNameTogether",
                  kHead,
                  {{"DENGINE_STORAGE_KV_BACKEND", "file"},
                   {"DENGINE_STORAGE_STATE_MACHINE", "file"}},
                  "environment variable DENGINE_STORAGE_STATE_MACHINE: "
                  "storage.kv_backend: set twice, as storage.kv_backend and "
                  "as storage.state_machine (its old name)"},
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
                  "peer 2: bad address \"127.0.0.1:x\": port must be 1-65535"},
        ErrorCase{"EnvDuplicatePeer",
                  kHead,
                  {{"DENGINE_CLUSTER_PEERS", "2=h:1,2=h:2"}},
                  "environment variable DENGINE_CLUSTER_PEERS: cluster.peers: "
                  "peer id 2 is listed twice"},
        ErrorCase{"EnvPeerIsThisNode",
                  kHead,
                  {{"DENGINE_CLUSTER_PEERS", "1=h:1"}},
                  "environment variable DENGINE_CLUSTER_PEERS: cluster.peers: "
                  "peer 1 is this node (id); list only the other nodes"},
        ErrorCase{"EnvVotersWithoutThisNode",
                  kHead,
                  {{"DENGINE_CLUSTER_INITIAL_VOTERS", "2"},
                   {"DENGINE_CLUSTER_PEERS", "2=h:2"}},
                  "environment variable DENGINE_CLUSTER_INITIAL_VOTERS: "
                  "cluster.initial_voters: must contain this node (id 1); "
                  "leave it empty to join an existing cluster instead"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) {
      return std::string(info.param.name);
    });

}  // namespace
}  // namespace dengine::node
