// dengined's configuration (tools/dengined/config.h): the library's loader
// (tested in tests/unit/node/toml_config_test.cc) plus what only a server
// requires: the four [node] keys set, real ports, the whole checked with
// every error placed, and [log] level applied.
#include "dengined/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dengine::server {
namespace {

using std::chrono::milliseconds;

// The keys a server must set, with nothing else.
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

TEST(ServerConfigTest, EveryDefault) {
  const ServerConfig config = parse_ok(kMinimal);
  const node::NodeOptions& node = config.node;
  EXPECT_EQ(node.id, 1u);
  EXPECT_EQ(node.listen_address, "127.0.0.1:7001");
  EXPECT_EQ(node.client_address, "127.0.0.1:8001");
  EXPECT_EQ(node.cluster_id, 1u);
  EXPECT_TRUE(node.initial_voters.empty());  // joins an existing cluster
  EXPECT_TRUE(node.peers.empty());
  EXPECT_TRUE(node.client_addresses.empty());
  EXPECT_EQ(node.log_backend, node::LogBackend::kWal);
  EXPECT_EQ(node.kv_backend, DENGINE_KV_ROCKSDB);
  EXPECT_EQ(node.snapshot_policy.entries, 10'000u);
  EXPECT_EQ(node.snapshot_policy.bytes, 64u << 20);
  EXPECT_EQ(node.snapshots_kept, 2);
  EXPECT_EQ(node.max_entry_bytes, 16u << 20);
  EXPECT_EQ(node.tick_interval, milliseconds(10));
  EXPECT_EQ(node.election_ticks, 15);
  EXPECT_EQ(node.heartbeat_ticks, 3);
  EXPECT_EQ(node.default_read, node::ReadConsistency::kLinearizable);
  EXPECT_EQ(config.log_level, DENGINE_LOG_INFO);
  EXPECT_EQ(config.source, "node.toml");
}

TEST(ServerConfigTest, LogLevelAndPeersClientAddresses) {
  const ServerConfig config = parse_ok(with_minimal(R"(
[cluster]
peers = [{ id = 2, address = "127.0.0.1:7002", client_address = "h:8002" }]
[log]
level = "debug"
)"));
  EXPECT_EQ(config.log_level, DENGINE_LOG_DEBUG);
  EXPECT_EQ(config.node.client_addresses,
            (std::map<raft::NodeId, std::string>{{2, "h:8002"}}));
  EXPECT_EQ(parse_ok(kMinimal, {{"DENGINE_LOG_LEVEL", "warn"}}).log_level,
            DENGINE_LOG_WARN);
}

TEST(ServerConfigTest, EnvironmentAloneSuffices) {
  const ServerConfig config =
      parse_ok("", {{"DENGINE_NODE_ID", "4"},
                    {"DENGINE_NODE_DATA_DIR", "/d"},
                    {"DENGINE_NODE_PEER_ADDRESS", "127.0.0.1:7004"},
                    {"DENGINE_NODE_CLIENT_ADDRESS", "127.0.0.1:8004"}});
  EXPECT_EQ(config.node.id, 4u);
}

TEST(ServerConfigTest, FailureLeavesTheOutputAlone) {
  ServerConfig config;
  config.node.client_address = "unchanged";
  std::string error;
  EXPECT_FALSE(
      parse_config("[node]\nid = 0\n", "node.toml", {}, &config, &error));
  EXPECT_EQ(config.node.client_address, "unchanged");
}

TEST(ServerConfigTest, ProcessEnvironmentHoldsTheDengineVariables) {
  ASSERT_EQ(setenv("DENGINE_CONFIG_TEST_PROBE", "a=b", 1), 0);
  ASSERT_EQ(setenv("OTHER_CONFIG_TEST_PROBE", "c", 1), 0);
  const Environment env = process_environment();
  unsetenv("DENGINE_CONFIG_TEST_PROBE");
  unsetenv("OTHER_CONFIG_TEST_PROBE");
  EXPECT_EQ(env.at("DENGINE_CONFIG_TEST_PROBE"), "a=b");
  EXPECT_FALSE(env.contains("OTHER_CONFIG_TEST_PROBE"));
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

  // A rule across options names the option's key, placed at the file when
  // the file left that key out.
  write_file(path, with_minimal("[raft]\nheartbeat_ticks = 15\n"));
  EXPECT_FALSE(load_config(path, {}, &config, &error));
  EXPECT_EQ(error, path +
                       ": raft.election_ticks: must be greater than "
                       "heartbeat_ticks (15), got 15");
  std::remove(path.c_str());

  EXPECT_FALSE(load_config(path, {}, &config, &error));
  EXPECT_EQ(error, "cannot open " + path + ": No such file or directory");
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
    EXPECT_EQ(config.node.client_address, "127.0.0.1:800" + std::to_string(id));
    EXPECT_EQ(config.node.data_dir, "./data/node" + std::to_string(id));
    EXPECT_EQ(config.node.initial_voters, (std::vector<raft::NodeId>{1, 2, 3}));
    EXPECT_EQ(config.node.peers.size(), 2u);
    for (const node::Member& peer : config.node.peers) {
      EXPECT_EQ(config.node.client_addresses.at(peer.id),
                "127.0.0.1:800" + std::to_string(peer.id));
    }
  }
}

TEST(ServerConfigTest, WhatOnlyAServerRequires) {
  EXPECT_EQ(parse_error("[node]\ndata_dir = \"d\"\n"),
            "node.toml: node.id: missing; set it in [node] or with "
            "DENGINE_NODE_ID");
  EXPECT_EQ(parse_error("[node]\nid = 1\ndata_dir = \"d\"\n"
                        "peer_address = \"127.0.0.1:7001\"\n"),
            "node.toml: node.client_address: missing; set it in [node] or "
            "with DENGINE_NODE_CLIENT_ADDRESS");
  // Port 0 is any free port to the library, and no use to a server's peers
  // and clients.
  EXPECT_EQ(parse_error("[node]\nclient_address = \"127.0.0.1:0\"\n"),
            "node.toml:2:18: node.client_address: bad address "
            "\"127.0.0.1:0\": port must be 1-65535");
  EXPECT_EQ(parse_error(kMinimal, {{"DENGINE_NODE_PEER_ADDRESS", "h:0"}}),
            "environment variable DENGINE_NODE_PEER_ADDRESS: "
            "node.peer_address: bad address \"h:0\": port must be 1-65535");
}

TEST(ServerConfigTest, TheWholeIsCheckedWithEveryErrorPlaced) {
  // Each key's own errors, from the library's loader.
  EXPECT_EQ(parse_error(with_minimal("[raft]\ntick_ms = 50.0\n")),
            "node.toml:7:11: raft.tick_ms: expected an integer, got a "
            "floating-point number");
  // The rules across options, placed at the key they name.
  EXPECT_EQ(parse_error(with_minimal("[cluster]\ninitial_voters = [1, 2]\n")),
            "node.toml:7:18: cluster.initial_voters: voter 2 has no address "
            "in peers");
  EXPECT_EQ(parse_error(kMinimal, {{"DENGINE_CLUSTER_PEERS", "1=h:1"}}),
            "environment variable DENGINE_CLUSTER_PEERS: cluster.peers: peer 1 "
            "is this node (id); list only the other nodes");
}

}  // namespace
}  // namespace dengine::server
