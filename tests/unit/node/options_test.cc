// NodeOptions' rules (node/options.h): each value's check, the rules across
// options, and the option every broken rule names.
#include "node/options.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

namespace dengine::node {
namespace {

using std::chrono::milliseconds;

// A node that can start: a single voter of a new cluster, with two peers
// known.
NodeOptions usable() {
  NodeOptions options;
  options.id = 1;
  options.data_dir = "/var/lib/dengine";
  options.listen_address = "127.0.0.1:7001";
  options.client_address = "127.0.0.1:8001";
  options.peers = {{2, "127.0.0.1:7002", true}, {3, "127.0.0.1:7003", true}};
  options.client_addresses = {{2, "127.0.0.1:8002"}};
  options.initial_voters = {1, 2, 3};
  return options;
}

TEST(NodeOptionsTest, DefaultsNeedOnlyAnIdAndADataDir) {
  NodeOptions options;
  EXPECT_EQ(options.validate(), "id: missing: every node needs a node id");
  options.id = 1;
  EXPECT_EQ(options.validate(),
            "data_dir: missing: every node needs a data directory");
  options.data_dir = "d";
  EXPECT_EQ(options.check(), std::nullopt);
  EXPECT_EQ(usable().validate(), "");
}

TEST(NodeOptionsTest, EachValueRule) {
  EXPECT_EQ(NodeOptions::check_id(0), "must be at least 1, got 0");
  EXPECT_EQ(NodeOptions::check_id(1), "");
  EXPECT_EQ(NodeOptions::check_data_dir(""), "must not be empty");
  EXPECT_EQ(NodeOptions::check_listen_address("127.0.0.1:0"), "");
  EXPECT_EQ(NodeOptions::check_member_address("127.0.0.1:0"),
            "bad address \"127.0.0.1:0\": port must be 1-65535");
  EXPECT_EQ(NodeOptions::check_kv_backend(7),
            "must be DENGINE_KV_ROCKSDB or DENGINE_KV_FILE, got 7");
  EXPECT_EQ(NodeOptions::check_tick_ms(0),
            "must be between 1 and 10000, got 0");
  EXPECT_EQ(NodeOptions::check_tick_ms(10'000), "");
  EXPECT_EQ(NodeOptions::check_election_ticks(2),
            "must be between 3 and 10000, got 2");
  EXPECT_EQ(NodeOptions::check_heartbeat_ticks(10'001),
            "must be between 1 and 10000, got 10001");
  EXPECT_EQ(NodeOptions::check_snapshots_kept(0),
            "must be between 1 and 1000, got 0");
  EXPECT_EQ(NodeOptions::check_max_entry_bytes(63u << 20), "");
  EXPECT_EQ(NodeOptions::check_max_entry_bytes((63u << 20) + 1),
            "must be between 1 and 66060288, got 66060289");
  EXPECT_EQ(NodeOptions::check_initial_voters({1, 2, 1}),
            "node 1 is listed twice");
  EXPECT_EQ(NodeOptions::check_initial_voters({0}),
            "a voter id must be at least 1, got 0");
  EXPECT_EQ(NodeOptions::check_state_machine(dengine_state_machine{}),
            "apply_chunk, generate_snapshot and install_snapshot are "
            "required");
}

TEST(NodeOptionsTest, TheCApiValuesOfChoices) {
  LogBackend backend = LogBackend::kWal;
  EXPECT_EQ(NodeOptions::log_backend_of(DENGINE_STORAGE_ROCKSDB, &backend), "");
  EXPECT_EQ(backend, LogBackend::kRocksDb);
  EXPECT_EQ(NodeOptions::log_backend_of(5, &backend),
            "must be DENGINE_STORAGE_WAL or DENGINE_STORAGE_ROCKSDB, got 5");
  ReadConsistency read = ReadConsistency::kLinearizable;
  EXPECT_EQ(NodeOptions::read_consistency_of(DENGINE_READ_EVENTUAL, &read), "");
  EXPECT_EQ(read, ReadConsistency::kEventual);
  // DEFAULT is a read's choice, not a default's.
  EXPECT_NE(NodeOptions::read_consistency_of(DENGINE_READ_DEFAULT, &read), "");
}

TEST(NodeOptionsTest, PeersAreAddedOrReplacedOnlyWhenTheRulesHold) {
  NodeOptions options;
  EXPECT_EQ(options.add_peer(2, "h:2"), "");
  EXPECT_EQ(options.add_peer(3, "h:3"), "");
  EXPECT_EQ(options.add_peer(2, "h:22"), "");  // replaces
  EXPECT_EQ(options.peers,
            (std::vector<Member>{{2, "h:22", true}, {3, "h:3", true}}));
  EXPECT_EQ(options.add_peer(4, "h:3"),
            "address \"h:3\" is listed twice (peers 3 and 4)");
  EXPECT_EQ(options.add_peer(0, "h:9"), "a peer id must be at least 1, got 0");
  EXPECT_EQ(options.add_peer(5, "h:0"),
            "peer 5: bad address \"h:0\": port must be 1-65535");
  EXPECT_EQ(options.peers.size(), 2u);

  EXPECT_EQ(options.add_peer_client_address(2, "h:82"), "");
  EXPECT_EQ(options.add_peer_client_address(3, "h:82"),
            "address \"h:82\" is listed twice (peers 2 and 3)");
  EXPECT_EQ(options.add_peer_client_address(3, "h:3"),
            "address \"h:3\" is listed twice (peer 3)");
  EXPECT_EQ(options.client_addresses,
            (std::map<raft::NodeId, std::string>{{2, "h:82"}}));
}

// Each rule across options, and the option it names.
struct RuleCase {
  const char* name;
  std::function<void(NodeOptions*)> break_it;
  std::string message;
};

void PrintTo(const RuleCase& rule, std::ostream* os) { *os << rule.name; }

class NodeOptionsRuleTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(NodeOptionsRuleTest, NamesTheOption) {
  NodeOptions options = usable();
  GetParam().break_it(&options);
  const std::optional<OptionError> error = options.check();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->to_string(), GetParam().message);
  EXPECT_EQ(options.validate(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, NodeOptionsRuleTest,
    ::testing::Values(
        RuleCase{"BadPeerAddress",
                 [](NodeOptions* o) { o->listen_address = "localhost"; },
                 "peer_address: bad address \"localhost\": expected "
                 "host:port"},
        RuleCase{"ClientAddressIsThePeerAddress",
                 [](NodeOptions* o) { o->client_address = o->listen_address; },
                 "client_address: must differ from peer_address "
                 "(\"127.0.0.1:7001\")"},
        RuleCase{"PeerIsThisNode", [](NodeOptions* o) { o->peers[0].id = 1; },
                 "peers: peer 1 is this node (id); list only the other nodes"},
        RuleCase{"PeerListedTwice", [](NodeOptions* o) { o->peers[1].id = 2; },
                 "peers: peer id 2 is listed twice"},
        RuleCase{"PeerHasOurAddress",
                 [](NodeOptions* o) { o->peers[1].address = "127.0.0.1:7001"; },
                 "peers: peer 3 has this node's own address "
                 "\"127.0.0.1:7001\" (peer_address)"},
        RuleCase{
            "PeerHasOurClientAddress",
            [](NodeOptions* o) { o->client_addresses[3] = "127.0.0.1:8001"; },
            "peers: peer 3 has this node's own address "
            "\"127.0.0.1:8001\" as its client address"},
        RuleCase{"VotersWithoutThisNode",
                 [](NodeOptions* o) {
                   o->initial_voters = {2, 3};
                 },
                 "initial_voters: must contain this node (id 1); leave it "
                 "empty to join an existing cluster instead"},
        RuleCase{"VoterWithoutAddress",
                 [](NodeOptions* o) {
                   o->initial_voters = {1, 4};
                 },
                 "initial_voters: voter 4 has no address in peers"},
        RuleCase{"MachineWithoutCallbacks",
                 [](NodeOptions* o) { o->machine = dengine_state_machine{}; },
                 "state_machine: apply_chunk, generate_snapshot and "
                 "install_snapshot are required"},
        RuleCase{"UnknownKvBackend", [](NodeOptions* o) { o->kv_backend = 9; },
                 "kv_backend: must be DENGINE_KV_ROCKSDB or DENGINE_KV_FILE, "
                 "got 9"},
        RuleCase{"NegativeTick",
                 [](NodeOptions* o) { o->tick_interval = milliseconds(-1); },
                 "tick_ms: must not be negative, got -1"},
        RuleCase{
            "TickTooLong",
            [](NodeOptions* o) { o->tick_interval = milliseconds(20'000); },
            "tick_ms: must be between 1 and 10000, got 20000"},
        RuleCase{"HeartbeatNotBelowElection",
                 [](NodeOptions* o) {
                   o->election_ticks = 5;
                   o->heartbeat_ticks = 5;
                 },
                 "election_ticks: must be greater than heartbeat_ticks (5), "
                 "got 5"},
        RuleCase{"NoSnapshotKept",
                 [](NodeOptions* o) { o->snapshots_kept = 0; },
                 "snapshots_kept: must be between 1 and 1000, got 0"},
        RuleCase{"EmptyEntries", [](NodeOptions* o) { o->max_entry_bytes = 0; },
                 "max_entry_bytes: must be between 1 and 66060288, got 0"}),
    [](const ::testing::TestParamInfo<RuleCase>& info) {
      return std::string(info.param.name);
    });

TEST(NodeOptionsTest, BothAddressesAtPortZeroAreTwoFreePorts) {
  NodeOptions options = usable();
  options.listen_address = "127.0.0.1:0";
  options.client_address = "127.0.0.1:0";
  EXPECT_EQ(options.validate(), "");
}

}  // namespace
}  // namespace dengine::node
