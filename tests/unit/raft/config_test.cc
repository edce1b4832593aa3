// Config::validate: every unusable setting is refused with a message that
// names the setting and its value.
#include <gtest/gtest.h>

#include "raft/config.h"

namespace dengine::raft {
namespace {

Config valid_config() {
  Config config;
  config.id = 1;
  config.bootstrap_voters = {1, 2, 3};
  return config;
}

TEST(Config, DefaultsWithAnIdAreValid) {
  EXPECT_EQ(valid_config().validate(), "");
  Config joining;
  joining.id = 4;
  EXPECT_EQ(joining.validate(), "") << "no bootstrap voters: joins a cluster";
}

TEST(Config, RefusesNodeIdZero) {
  Config config = valid_config();
  config.id = 0;
  EXPECT_EQ(config.validate(), "id must not be 0");
}

TEST(Config, RefusesElectionTickNotAboveHeartbeatTick) {
  Config config = valid_config();
  config.election_tick = 5;
  config.heartbeat_tick = 5;
  EXPECT_EQ(config.validate(),
            "election_tick (5) must be greater than heartbeat_tick (5)");
  config.election_tick = 6;
  config.lease_drift_ticks = 1;
  EXPECT_EQ(config.validate(), "");
}

TEST(Config, RefusesHeartbeatTickBelowOne) {
  Config config = valid_config();
  config.heartbeat_tick = 0;
  EXPECT_EQ(config.validate(), "heartbeat_tick (0) must be at least 1");
}

TEST(Config, RefusesZeroFlowControlLimits) {
  Config config = valid_config();
  config.max_inflight_msgs = 0;
  EXPECT_EQ(config.validate(), "max_inflight_msgs must not be 0");
  config = valid_config();
  config.max_inflight_bytes = 0;
  EXPECT_EQ(config.validate(), "max_inflight_bytes must not be 0");
  config = valid_config();
  config.max_msg_bytes = 0;
  EXPECT_EQ(config.validate(), "max_msg_bytes must not be 0");
}

TEST(Config, AllowsUnlimitedEntrySize) {
  Config config = valid_config();
  config.max_entry_bytes = 0;
  EXPECT_EQ(config.validate(), "");
}

TEST(Config, RefusesLeaseDriftOutsideElectionTimeout) {
  Config config = valid_config();
  config.lease_drift_ticks = -1;
  EXPECT_EQ(config.validate(),
            "lease_drift_ticks (-1) must be in [0, election_tick (10))");
  config.lease_drift_ticks = 10;
  EXPECT_EQ(config.validate(),
            "lease_drift_ticks (10) must be in [0, election_tick (10))");
  config.lease_drift_ticks = 9;
  EXPECT_EQ(config.validate(), "");
  config.lease_drift_ticks = 0;
  EXPECT_EQ(config.validate(), "");
}

TEST(Config, RefusesBootstrapVoterZero) {
  Config config = valid_config();
  config.bootstrap_voters = {1, 0, 2};
  EXPECT_EQ(config.validate(), "bootstrap_voters must not contain node id 0");
}

TEST(Config, RefusesDuplicateBootstrapVoters) {
  Config config = valid_config();
  config.bootstrap_voters = {3, 1, 3};
  EXPECT_EQ(config.validate(), "bootstrap_voters lists node 3 twice");
}

}  // namespace
}  // namespace dengine::raft
